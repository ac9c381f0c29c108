package sdnotify

import "errors"

// ErrAddress means NOTIFY_SOCKET holds an address this package cannot
// send to: neither an absolute path nor an abstract name starting with
// '@' (systemd 254 and later may also name a vsock: address, which is not
// supported).
var ErrAddress = errors.New("sdnotify: unsupported NOTIFY_SOCKET address")
