package webfetch

import (
	"regexp"
	"strings"

	"golang.org/x/net/html"
)

// skipped elements carry no readable text.
func skipped(tag string) bool {
	switch tag {
	case "script", "style", "noscript", "head", "template", "svg", "iframe", "form", "nav":
		return true
	}
	return false
}

var blankLines = regexp.MustCompile(`\n{3,}`)

// ToText returns the readable text of an HTML document.
func ToText(doc string) string { return render(doc, false) }

// ToMarkdown renders an HTML document as markdown: headings, paragraphs,
// links, lists, emphasis and code.
func ToMarkdown(doc string) string { return render(doc, true) }

func render(doc string, md bool) string {
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		return doc
	}
	var b strings.Builder
	var walk func(n *html.Node, pre bool)
	walk = func(n *html.Node, pre bool) {
		if n.Type == html.TextNode {
			if pre {
				b.WriteString(n.Data)
				return
			}
			// Runs of white space become one space, kept at the edges so
			// that words either side of an inline element stay apart.
			t := n.Data
			words := strings.Join(strings.Fields(t), " ")
			space := func() {
				if s := b.String(); s != "" && !strings.HasSuffix(s, " ") && !strings.HasSuffix(s, "\n") {
					b.WriteByte(' ')
				}
			}
			if t != "" && isSpace(t[0]) {
				space()
			}
			b.WriteString(words)
			if words != "" && isSpace(t[len(t)-1]) {
				space()
			}
			return
		}
		if n.Type != html.ElementNode && n.Type != html.DocumentNode {
			return
		}
		tag := n.Data
		if n.Type == html.ElementNode && skipped(tag) {
			return
		}
		children := func(pre bool) {
			for c := range n.ChildNodes() {
				walk(c, pre)
			}
		}
		switch tag {
		case "h1", "h2", "h3", "h4", "h5", "h6":
			b.WriteString("\n\n")
			if md {
				b.WriteString(strings.Repeat("#", int(tag[1]-'0')) + " ")
			}
			children(false)
			b.WriteString("\n\n")
		case "p", "div", "section", "article", "header", "footer", "main", "table", "blockquote":
			b.WriteString("\n\n")
			children(pre)
			b.WriteString("\n\n")
		case "br":
			b.WriteString("\n")
		case "tr":
			b.WriteString("\n")
			children(pre)
		case "td", "th":
			children(pre)
			b.WriteString(" ")
		case "li":
			b.WriteString("\n- ")
			children(pre)
		case "ul", "ol":
			b.WriteString("\n")
			children(pre)
			b.WriteString("\n")
		case "pre":
			if md {
				b.WriteString("\n\n```\n")
			}
			children(true)
			if md {
				b.WriteString("\n```\n\n")
			}
		case "code":
			if md && !pre {
				b.WriteString("`")
				children(pre)
				b.WriteString("`")
			} else {
				children(pre)
			}
		case "strong", "b":
			wrap(&b, md, "**", func() { children(pre) })
		case "em", "i":
			wrap(&b, md, "_", func() { children(pre) })
		case "a":
			href := attr(n, "href")
			if md && href != "" && !strings.HasPrefix(href, "javascript:") {
				b.WriteString("[")
				children(pre)
				b.WriteString("](" + href + ")")
			} else {
				children(pre)
			}
		default:
			children(pre)
		}
	}
	walk(root, false)
	out := blankLines.ReplaceAllString(b.String(), "\n\n")
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.TrimSpace(strings.Join(lines, "\n")) + "\n"
}

func wrap(b *strings.Builder, md bool, mark string, inner func()) {
	if md {
		b.WriteString(mark)
	}
	inner()
	if md {
		b.WriteString(mark)
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' }
