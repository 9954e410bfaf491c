"""Go's text formatting where Vault's messages show through: ``%q`` and go-multierror."""

from __future__ import annotations

_SIMPLE_ESCAPES = {
    "\a": r"\a",
    "\b": r"\b",
    "\f": r"\f",
    "\n": r"\n",
    "\r": r"\r",
    "\t": r"\t",
    "\v": r"\v",
    '"': r"\"",
    "\\": r"\\",
}


def quote(text: str) -> str:
    """Go's ``strconv.Quote`` (what ``%q`` prints for a string): ``a "b"`` + newline
    becomes ``"a \\"b\\"\\n"``; printable Unicode is kept as it is."""
    out = []
    for char in text:
        if char in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def multierror(messages: list[str]) -> str:
    """hashicorp/go-multierror's default ``Error()`` text."""
    if len(messages) == 1:
        return f"1 error occurred:\n\t* {messages[0]}\n\n"
    points = "\n\t".join(f"* {message}" for message in messages)
    return f"{len(messages)} errors occurred:\n\t{points}\n\n"
