package update

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

// ErrTooLarge is a download beyond the configured bound.
var ErrTooLarge = errors.New("larger than update.maxBytes")

// downloadAttempts is how many times a download is tried, each resuming
// where the one before stopped.
const downloadAttempts = 5

// Download fetches url into the file at dst (made 0600, replaced), at
// most maxBytes, resuming with a Range request after a dropped
// connection, up to downloadAttempts tries. It returns the bytes
// written. A server that ignores the Range gets the whole file again.
func Download(ctx context.Context, client *http.Client, url, dst string, maxBytes int64) (int64, error) {
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var have int64
	var last error
	for attempt := range downloadAttempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return have, ctx.Err()
			case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
			}
		}
		done, err := fetch(ctx, client, url, f, &have, maxBytes)
		if done {
			if err := f.Sync(); err != nil {
				return have, err
			}
			return have, nil
		}
		if !retryable(err) || ctx.Err() != nil {
			return have, err
		}
		last = err
	}
	return have, fmt.Errorf("%w (after %d attempts, %d bytes)", last, downloadAttempts, have)
}

// fetch makes one request for what f lacks from *have on, and writes it
// to f; it reports whether the file is complete.
func fetch(ctx context.Context, client *http.Client, url string, f *os.File, have *int64, maxBytes int64) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, permanent{err}
	}
	if *have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(*have, 10)+"-")
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && *have > 0:
	case resp.StatusCode == http.StatusOK: // from the start
		if err := restart(f, have); err != nil {
			return false, permanent{err}
		}
	case resp.StatusCode >= 500:
		return false, fmt.Errorf("%s: %s", url, resp.Status)
	default:
		return false, permanent{fmt.Errorf("%s: %s", url, resp.Status)}
	}
	if resp.ContentLength >= 0 && *have+resp.ContentLength > maxBytes {
		return false, permanent{fmt.Errorf("%s: %d bytes: %w (%d)", url, *have+resp.ContentLength, ErrTooLarge, maxBytes)}
	}
	n, err := io.Copy(f, io.LimitReader(resp.Body, maxBytes-*have+1))
	*have += n
	switch {
	case *have > maxBytes:
		return false, permanent{fmt.Errorf("%s: %w (%d bytes)", url, ErrTooLarge, maxBytes)}
	case err != nil:
		return false, err
	case resp.ContentLength >= 0 && n < resp.ContentLength:
		return false, fmt.Errorf("%s: connection dropped after %d of %d bytes: %w", url, n, resp.ContentLength, io.ErrUnexpectedEOF)
	}
	return true, nil
}

// restart empties f, for a response from the file's start.
func restart(f *os.File, have *int64) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.Seek(0, io.SeekStart)
	*have = 0
	return err
}

// permanent is an error another attempt would not mend.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

func retryable(err error) bool {
	var p permanent
	return err != nil && !errors.As(err, &p)
}
