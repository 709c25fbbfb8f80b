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
	r := &renderer{md: md}
	r.node(root, false)
	return tidy(r.b.String())
}

// renderer writes the text (or markdown) of an HTML tree.
type renderer struct {
	b  strings.Builder
	md bool
}

// node renders one node; pre keeps white space as it is.
func (r *renderer) node(n *html.Node, pre bool) {
	switch {
	case n.Type == html.TextNode:
		r.text(n.Data, pre)
	case n.Type == html.DocumentNode:
		r.children(n, pre)
	case n.Type == html.ElementNode && !skipped(n.Data):
		r.element(n, pre)
	}
}

func (r *renderer) children(n *html.Node, pre bool) {
	for c := range n.ChildNodes() {
		r.node(c, pre)
	}
}

// text writes a text node: outside <pre>, runs of white space become one
// space, kept at the edges so that words either side of an inline element
// stay apart.
func (r *renderer) text(t string, pre bool) {
	if pre {
		r.b.WriteString(t)
		return
	}
	words := strings.Join(strings.Fields(t), " ")
	space := func() {
		if s := r.b.String(); s != "" && !strings.HasSuffix(s, " ") && !strings.HasSuffix(s, "\n") {
			r.b.WriteByte(' ')
		}
	}
	if t != "" && isSpace(t[0]) {
		space()
	}
	r.b.WriteString(words)
	if words != "" && isSpace(t[len(t)-1]) {
		space()
	}
}

// element writes an element's block structure and inline marks around
// its children.
func (r *renderer) element(n *html.Node, pre bool) {
	b, md := &r.b, r.md
	switch tag := n.Data; tag {
	case "h1", "h2", "h3", "h4", "h5", "h6":
		b.WriteString("\n\n")
		if md {
			b.WriteString(strings.Repeat("#", int(tag[1]-'0')) + " ")
		}
		r.children(n, false)
		b.WriteString("\n\n")
	case "p", "div", "section", "article", "header", "footer", "main", "table", "blockquote":
		b.WriteString("\n\n")
		r.children(n, pre)
		b.WriteString("\n\n")
	case "br":
		b.WriteString("\n")
	case "tr":
		b.WriteString("\n")
		r.children(n, pre)
	case "td", "th":
		r.children(n, pre)
		b.WriteString(" ")
	case "li":
		b.WriteString("\n- ")
		r.children(n, pre)
	case "ul", "ol":
		b.WriteString("\n")
		r.children(n, pre)
		b.WriteString("\n")
	case "pre":
		wrap(b, md, "\n\n```\n", "\n```\n\n", func() { r.children(n, true) })
	case "code":
		wrap(b, md && !pre, "`", "`", func() { r.children(n, pre) })
	case "strong", "b":
		wrap(b, md, "**", "**", func() { r.children(n, pre) })
	case "em", "i":
		wrap(b, md, "_", "_", func() { r.children(n, pre) })
	case "a":
		href := attr(n, "href")
		wrap(b, md && href != "" && !strings.HasPrefix(href, "javascript:"), "[", "]("+href+")", func() { r.children(n, pre) })
	default:
		r.children(n, pre)
	}
}

// tidy collapses blank lines and trailing white space.
func tidy(s string) string {
	out := blankLines.ReplaceAllString(s, "\n\n")
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.TrimSpace(strings.Join(lines, "\n")) + "\n"
}

// wrap writes open and closing around inner when on.
func wrap(b *strings.Builder, on bool, open, closing string, inner func()) {
	if on {
		b.WriteString(open)
	}
	inner()
	if on {
		b.WriteString(closing)
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
