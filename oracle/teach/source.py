"""The text of a program for `compare`: read as bytes, checked before anything parses it, and
errors that point at a line and column of it (`CompareError`), as a person counts them.
"""
import sys

MAX_BYTES = 100_000  # a program is typed or pasted, not generated


class CompareError(Exception):
    """Bad input: a message, and where it is (1-based line and column) when that is known."""

    def __init__(self, message, line=None, col=None):
        super().__init__(message)
        self.message, self.line, self.col = message, line, col

    def __str__(self):
        return self.message if self.line is None else f"line {self.line}, col {self.col}: {self.message}"


# --- reading: bytes, checked before anything parses them ---

def read_source(path):
    """The text of FILE (`-`: stdin), or CompareError for too big, NUL bytes or non-UTF-8."""
    try:
        if path == "-":
            if sys.stdin is None:  # started with its standard input closed (`<&-`)
                raise CompareError("cannot read stdin: it is closed; give FILE, or pipe the program in")
            raw = sys.stdin.buffer.read(MAX_BYTES + 1)
        else:
            with open(path, "rb") as f:
                raw = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise CompareError(f"cannot read {path}: {e.strerror or e}") from None
    return decode_source(raw)


def decode_source(raw):
    if len(raw) > MAX_BYTES:
        raise CompareError(f"the program is larger than {MAX_BYTES // 1000} kB")
    nul = raw.find(b"\0")
    if nul >= 0:
        raise CompareError("NUL byte: this is not a text file", *_byte_position(raw, nul))
    try:
        return raw.decode("utf-8-sig")  # strict; -sig drops a BOM, which the parser would refuse
    except UnicodeDecodeError as e:
        raise CompareError(f"not UTF-8 text (byte 0x{raw[e.start]:02x})", *_byte_position(raw, e.start)) from None


def _byte_position(raw, offset):
    """Line and column (in characters) of a byte offset; the bytes before it decode, or it would be earlier."""
    before = raw[:offset]
    line_start = before.rfind(b"\n") + 1
    return before.count(b"\n") + 1, len(before[line_start:].decode("utf-8", "replace")) + 1


def error_at(lines, node, message):
    """A CompareError at an AST node. ast's columns count UTF-8 bytes; people count characters."""
    line, col = node.lineno, node.col_offset + 1
    if 0 < line <= len(lines):
        col = len(lines[line - 1].encode("utf-8")[:node.col_offset].decode("utf-8", "replace")) + 1
    return CompareError(message, line, col)
