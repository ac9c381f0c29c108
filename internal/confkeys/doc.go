// Package confkeys decodes YAML onto Go structs whose yaml tags are the
// keys of a configuration, strictly, and names the key path of every
// error: what agent/config reads the agent's file with, and what each
// component declares its keys with.
//
// There are only a few types. A [Document] is a parsed YAML file, which
// decodes onto a struct and remembers the line of every key. A
// [*FieldError] names the key path of what is wrong, relative to where
// the decoding (or a Validate) started; [FieldError.Prefix] puts it under
// a parent's path. A [Size] is a byte count written as "64MiB". A
// [Mapping] is a mapping being decoded, for a type that decodes its keys
// itself ([MappingDecoder]): a sensor, whose keys depend on its type.
//
// # Keys
//
// A struct's keys are its exported fields' yaml tags. A field tagged
// `yaml:",inline"` whose type is a struct lends its keys to the struct; an
// inline field of another type (a pointer, an interface) is left to the
// struct's MappingDecoder, and printed inline by the YAML library.
//
// A number key (a time.Duration, a [Size] or a whole number) has limits in
// its field's limit tag: `limit:"MIN..MAX"`, MIN and MAX values of the
// key's type ("1s..18h", "1MiB..", "0x76..0x77"), MAX left out for no upper
// bound, or the name of another key ("1ms..interval"), which the
// component's Validate compares it with: there only MIN is checked. The
// decoder checks each value it reads against its limits; [CheckLimits]
// checks a Go value's.
//
// # Decoding
//
// Unknown keys are refused, with a suggestion when one is close ("did you
// mean broker?"). A key left out, or written null, keeps the field's
// value (zero: the component's default applies). Durations are Go
// duration strings ("30s"); a bare number other than 0 is refused, as it
// would not say its unit. Whole numbers may be written in hex ("0x76");
// one written with a fraction ("64.5") is refused rather than cut. YAML
// anchors and aliases are refused: every value is written where it
// applies, which keeps key paths in errors unambiguous.
//
// A key written as 0 is read like any other value, and refused by its
// limits unless 0 is within them: so an explicit 0 never silently stands
// for the default, as it does in the components' Go structs.
package confkeys
