"""Go's text formatting where Vault's messages show through: ``%q`` and go-multierror."""

from __future__ import annotations

_CHARACTER_ESCAPES = {
    "\a": r"\a",
    "\b": r"\b",
    "\f": r"\f",
    "\n": r"\n",
    "\r": r"\r",
    "\t": r"\t",
    "\v": r"\v",
    "\\": r"\\",
}


def quote(text: str, quote_char: str = '"', *, ascii_only: bool = False) -> str:
    """Go's ``strconv.Quote`` (what ``%q`` prints for a string): ``a "b"`` + newline
    becomes ``"a \\"b\\"\\n"``; printable Unicode is kept as it is. ``quote_char="'"``
    gives ``QuoteRune``; ``ascii_only`` gives ``QuoteToASCII`` (``%+q``)."""
    pieces = [quote_char]
    for character in text:
        code = ord(character)
        if character == quote_char:
            pieces.append("\\" + character)
        elif character in _CHARACTER_ESCAPES:
            pieces.append(_CHARACTER_ESCAPES[character])
        elif character.isprintable() and not (ascii_only and code >= 0x80):
            pieces.append(character)
        elif code < 0x20 or code == 0x7F:
            pieces.append(f"\\x{code:02x}")
        elif code < 0x10000:
            pieces.append(f"\\u{code:04x}")
        else:
            pieces.append(f"\\U{code:08x}")
    pieces.append(quote_char)
    return "".join(pieces)


def multierror(messages: list[str]) -> str:
    """hashicorp/go-multierror's default ``Error()`` text."""
    if len(messages) == 1:
        return f"1 error occurred:\n\t* {messages[0]}\n\n"
    points = "\n\t".join(f"* {message}" for message in messages)
    return f"{len(messages)} errors occurred:\n\t{points}\n\n"
