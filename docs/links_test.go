// Package docs holds the agent's documentation pages; its test checks
// the links between them.
package docs

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// pages are the pages whose links are checked, from the repository's root.
var pages = []string{"README.md", "docs/*.md", "conformance/README.md"}

// link is a Markdown inline link, [text](target), outside code blocks.
var link = regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)\)`)

// scheme starts a link that leaves the repository: https:, mailto:.
var scheme = regexp.MustCompile(`^[a-z]+:`)

// TestLinks checks that every relative link of the pages points at a
// file that exists and, with a #fragment into a Markdown page, at one of
// its headings.
func TestLinks(t *testing.T) {
	root := ".."
	var files []string
	for _, p := range pages {
		m, err := filepath.Glob(filepath.Join(root, p))
		if err != nil || len(m) == 0 {
			t.Fatalf("no page matches %s (%v)", p, err)
		}
		files = append(files, m...)
	}
	checked := 0
	for _, file := range files {
		text := read(t, file)
		for i, line := range prose(text) {
			for _, m := range link.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if scheme.MatchString(target) {
					continue
				}
				checked++
				if err := checkLink(file, target); err != nil {
					t.Errorf("%s:%d: %s: %v", file, i+1, target, err)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no relative link found: the pages or the pattern changed")
	}
}

// checkLink reports what is wrong with target, a relative link of the
// page at from.
func checkLink(from, target string) error {
	path, fragment, _ := strings.Cut(target, "#")
	to := from
	if path != "" {
		to = filepath.Join(filepath.Dir(from), path)
		if _, err := os.Stat(to); err != nil {
			return fmt.Errorf("no such file")
		}
	}
	if fragment == "" || !strings.HasSuffix(to, ".md") {
		return nil
	}
	b, err := os.ReadFile(to)
	if err != nil {
		return err
	}
	if !anchors(string(b))[fragment] {
		return fmt.Errorf("%s has no heading with the anchor #%s", to, fragment)
	}
	return nil
}

// anchors returns the anchors of the headings of a Markdown page, as
// GitHub makes them: lower case, punctuation dropped, spaces as hyphens,
// and -1, -2, ... after a heading's repeats.
func anchors(text string) map[string]bool {
	seen := map[string]int{}
	out := map[string]bool{}
	for _, line := range prose(text) {
		level := len(line) - len(strings.TrimLeft(line, "#"))
		if level == 0 || level > 6 || !strings.HasPrefix(line[level:], " ") {
			continue
		}
		heading := link.ReplaceAllStringFunc(strings.TrimSpace(line[level:]), func(s string) string {
			return s[1:strings.Index(s, "](")] // a link's text
		})
		slug := strings.Map(func(r rune) rune {
			switch {
			case r == ' ':
				return '-'
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r):
				return unicode.ToLower(r)
			}
			return -1
		}, heading)
		if n := seen[slug]; n > 0 {
			out[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	return out
}

// prose returns the lines of a Markdown page, those of fenced code blocks
// blanked, so that neither links nor headings are looked for in code.
func prose(text string) []string {
	lines := strings.Split(text, "\n")
	inCode := false
	for i, line := range lines {
		fence := strings.HasPrefix(strings.TrimSpace(line), "```")
		if inCode || fence {
			lines[i] = ""
		}
		if fence {
			inCode = !inCode
		}
	}
	return lines
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
