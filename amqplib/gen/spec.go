package main

import (
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// The XML shape shared by the 0-8 and 0-9-1 spec files. Only what the
// generator needs is decoded; documentation, chassis, asserts and the content
// properties declared directly on <class> are ignored.

type xmlSpec struct {
	Domains []xmlDomain `xml:"domain"`
	Classes []xmlClass  `xml:"class"`
}

type xmlDomain struct {
	Name string `xml:"name,attr"`
	Type string `xml:"type,attr"`
}

type xmlClass struct {
	Name    string      `xml:"name,attr"`
	Index   string      `xml:"index,attr"`
	Methods []xmlMethod `xml:"method"`
}

type xmlMethod struct {
	Name       string        `xml:"name,attr"`
	Index      string        `xml:"index,attr"`
	Content    string        `xml:"content,attr"`
	Deprecated string        `xml:"deprecated,attr"`
	Responses  []xmlResponse `xml:"response"`
	Fields     []xmlField    `xml:"field"`
}

type xmlResponse struct {
	Name string `xml:"name,attr"`
}

// xmlField names its type either directly (type="bit", the usual form in 0-8
// and for 0-9-1 reserved fields) or through a <domain> (domain="no-wait").
type xmlField struct {
	Name     string `xml:"name,attr"`
	Domain   string `xml:"domain,attr"`
	Type     string `xml:"type,attr"`
	Reserved string `xml:"reserved,attr"`
}

// The resolved model the emitter works from.

// Spec is the set of classes to generate, sorted by class index.
type Spec struct {
	Classes []*Class
}

// Class is one AMQP class; its methods are sorted by method index.
type Class struct {
	Name    string // XML name, e.g. "queue"
	Index   uint16
	Methods []*Method
}

// Method is one AMQP method.
type Method struct {
	Class      *Class
	Name       string // XML name, e.g. "declare-ok"
	Index      uint16
	GoName     string // e.g. "QueueDeclareOK"
	Content    bool
	Deprecated bool
	Responses  []string // full names, e.g. "basic.get-ok"
	Fields     []*Field
	Source     string // base name of an -extra file that added it, else ""
}

// FullName is the dotted spec name, e.g. "queue.declare-ok".
func (m *Method) FullName() string { return m.Class.Name + "." + m.Name }

// Field is one method argument.
type Field struct {
	Name     string // XML name, e.g. "consumer-tag" or "consumer tag"
	GoName   string // e.g. "ConsumerTag"
	Type     string // primitive AMQP type: bit, octet, short, …, table
	Reserved bool   // 0-9-1 "reserved-N": on the wire, not in the struct
}

// primitives maps each AMQP primitive type to its Go type.
var primitives = map[string]string{
	"bit":       "bool",
	"octet":     "uint8",
	"short":     "uint16",
	"long":      "uint32",
	"longlong":  "uint64",
	"shortstr":  "string",
	"longstr":   "string",
	"timestamp": "uint64",
	"table":     "amqp.Table",
}

// defaultClasses are the classes a client needs; 0-8's file, stream, dtx,
// tunnel and test classes are left out (RabbitMQ does not implement them).
const defaultClasses = "connection,channel,access,exchange,queue,basic,confirm,tx"

// parseXML decodes one spec (or -extra) file.
func parseXML(r io.Reader) (*xmlSpec, error) {
	var s xmlSpec
	if err := xml.NewDecoder(r).Decode(&s); err != nil {
		return nil, err
	}
	return &s, nil
}

// merge adds the domains and methods of extra to base. Methods of a class
// that base already has are appended to it; a method name that base already
// defines is an error, so an extension file cannot silently change the spec.
// Each added method is recorded in added under "class.method".
func merge(base, extra *xmlSpec, source string, added map[string]string) error {
	base.Domains = append(base.Domains, extra.Domains...)
	for _, ec := range extra.Classes {
		i := slices.IndexFunc(base.Classes, func(c xmlClass) bool { return c.Name == ec.Name })
		if i < 0 {
			base.Classes = append(base.Classes, xmlClass{Name: ec.Name, Index: ec.Index})
			i = len(base.Classes) - 1
		}
		bc := &base.Classes[i]
		if bc.Index != ec.Index {
			return fmt.Errorf("%s: class %s has index %s, the spec says %s", source, ec.Name, ec.Index, bc.Index)
		}
		for _, em := range ec.Methods {
			if slices.ContainsFunc(bc.Methods, func(m xmlMethod) bool { return m.Name == em.Name }) {
				return fmt.Errorf("%s: method %s.%s is already in the spec", source, ec.Name, em.Name)
			}
			bc.Methods = append(bc.Methods, em)
			added[ec.Name+"."+em.Name] = source
		}
	}
	return nil
}

// resolve turns the XML into the model: it keeps only the wanted classes,
// resolves every field's domain to a primitive type, names everything in Go,
// sorts by index and checks that ids and names are unique.
func resolve(x *xmlSpec, classes []string, added map[string]string) (*Spec, error) {
	domains := make(map[string]string, len(x.Domains))
	for _, d := range x.Domains {
		domains[d.Name] = d.Type
	}
	spec := &Spec{}
	ids := map[uint32]string{}
	goNames := map[string]string{}
	for _, xc := range x.Classes {
		if !slices.Contains(classes, xc.Name) {
			continue
		}
		ci, err := parseIndex(xc.Index)
		if err != nil {
			return nil, fmt.Errorf("class %s: %w", xc.Name, err)
		}
		c := &Class{Name: xc.Name, Index: ci}
		for _, xm := range xc.Methods {
			m, err := resolveMethod(c, xm, domains)
			if err != nil {
				return nil, fmt.Errorf("method %s.%s: %w", xc.Name, xm.Name, err)
			}
			m.Source = added[m.FullName()]
			id := uint32(c.Index)<<16 | uint32(m.Index)
			if prev, ok := ids[id]; ok {
				return nil, fmt.Errorf("methods %s and %s share id %d.%d", prev, m.FullName(), c.Index, m.Index)
			}
			ids[id] = m.FullName()
			if prev, ok := goNames[m.GoName]; ok {
				return nil, fmt.Errorf("methods %s and %s are both named %s in Go", prev, m.FullName(), m.GoName)
			}
			goNames[m.GoName] = m.FullName()
			c.Methods = append(c.Methods, m)
		}
		slices.SortFunc(c.Methods, func(a, b *Method) int { return int(a.Index) - int(b.Index) })
		spec.Classes = append(spec.Classes, c)
	}
	slices.SortFunc(spec.Classes, func(a, b *Class) int { return int(a.Index) - int(b.Index) })
	return spec, nil
}

func resolveMethod(c *Class, xm xmlMethod, domains map[string]string) (*Method, error) {
	mi, err := parseIndex(xm.Index)
	if err != nil {
		return nil, err
	}
	m := &Method{
		Class:      c,
		Name:       xm.Name,
		Index:      mi,
		GoName:     goName(c.Name) + goName(xm.Name),
		Content:    xm.Content == "1",
		Deprecated: xm.Deprecated == "1",
	}
	for _, r := range xm.Responses {
		m.Responses = append(m.Responses, c.Name+"."+r.Name)
	}
	seen := map[string]bool{}
	for _, xf := range xm.Fields {
		typ, err := fieldType(xf, domains)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", xf.Name, err)
		}
		f := &Field{
			Name:     xf.Name,
			GoName:   goName(xf.Name),
			Type:     typ,
			Reserved: xf.Reserved == "1",
		}
		if !f.Reserved {
			if seen[f.GoName] {
				return nil, fmt.Errorf("two fields are named %s in Go", f.GoName)
			}
			seen[f.GoName] = true
		}
		m.Fields = append(m.Fields, f)
	}
	return m, nil
}

// fieldType follows a field's type or domain to a primitive type. A domain
// may name a primitive directly (0-8 has no <domain name="bit"> entries).
func fieldType(f xmlField, domains map[string]string) (string, error) {
	t := f.Type
	if t == "" {
		t = f.Domain
	}
	for range 8 { // domains could chain; 8 steps is plenty and stops cycles
		if _, ok := primitives[t]; ok {
			return t, nil
		}
		next, ok := domains[t]
		if !ok {
			return "", fmt.Errorf("unknown type or domain %q", t)
		}
		if next == t {
			// <domain name="bit" type="bit"/> is how 0-9-1 declares primitives.
			break
		}
		t = next
	}
	return "", fmt.Errorf("domain %q does not resolve to a primitive type", t)
}

func parseIndex(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("bad index %q", s)
	}
	return uint16(n), nil
}

// wordNames spells words that are not simply capitalised in Go.
var wordNames = map[string]string{
	"id":     "ID",
	"ok":     "OK",
	"nowait": "NoWait", // 0-8 and 0-9-1's confirm.select write "nowait"
}

// goName converts an XML name to Go CamelCase. 0-9-1 separates words with
// hyphens ("consumer-tag"), 0-8 with spaces ("consumer tag"); both become
// "ConsumerTag".
func goName(xmlName string) string {
	words := strings.FieldsFunc(xmlName, func(r rune) bool { return r == '-' || r == ' ' || r == '_' })
	var b strings.Builder
	for _, w := range words {
		w = strings.ToLower(w)
		if s, ok := wordNames[w]; ok {
			b.WriteString(s)
			continue
		}
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}
