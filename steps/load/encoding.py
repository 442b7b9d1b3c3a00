"""Which text encoding a file is in, and the file as UTF-8 for DuckDB.

DuckDB reads UTF-8 only. Most files already are, so one streaming pass (which also
fingerprints the bytes) proves it and the file is parsed where it lies; BOMs, UTF-16
without a BOM, UTF-8 with a few bad bytes and the legacy code pages files really come in
are told apart from the bytes, and only those files are transcoded, in a streaming pass.
Nothing here speaks to a person: `steps.load.text` turns what is found into sentences.
"""

from __future__ import annotations

import codecs
import hashlib
import itertools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from steps.errors import TranscodeError

CHUNK_BYTES = 1 << 20  # how much of a file is read at a time

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Most common first: Western, Central European, Cyrillic, Japanese, Chinese, Korean, ...
_LEGACY_CODECS = ("cp1252", "cp1250", "cp1251", "cp932", "gb18030", "big5", "cp949", "cp1254")
_EAST_ASIAN = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "IDEOGRAPHIC")
_ACCENT_RUN = re.compile(r"[^\x00-\x7f]{3}")


@dataclass(frozen=True)
class Scan:
    """What one streaming pass over the bytes found.

    `longest_line` is the longest line in bytes and `longest_line_end` the offset where it
    ends, as far as lines longer than one chunk are concerned (shorter ones count as one
    chunk): only lines past a limit of at least that much are refused.
    """

    sha256: str
    first_invalid_utf8: int | None
    nul_bytes: int
    longest_line: int = 0
    longest_line_end: int = 0


class _LongestLine:
    """The longest run of bytes without a line end (LF, or CR in a file of CRs), kept across
    chunks; each chunk is searched from either end only, so this costs next to nothing."""

    def __init__(self) -> None:
        self.position = 0  # offset of the chunk being fed
        self.run = 0  # bytes since the last line end
        self.longest = 0
        self.longest_end = 0

    def feed(self, chunk: bytes) -> None:
        first = chunk.find(b"\n")
        first = chunk.find(b"\r") if first < 0 else first
        if first < 0:
            self.run += len(chunk)
        else:
            self._end(self.run + first, self.position + first)
            last = chunk.rfind(b"\n")
            last = chunk.rfind(b"\r") if last < 0 else last
            self.run = len(chunk) - last - 1
        self.position += len(chunk)
        self._end(self.run, self.position)

    def _end(self, length: int, offset: int) -> None:
        if length > self.longest:
            self.longest, self.longest_end = length, offset


def scan(path: Path, skip_utf8_check: bool) -> Scan:
    """Fingerprint, UTF-8 validity, NUL count and longest line in a single read of the file."""
    digest = hashlib.sha256()
    decoder = None if skip_utf8_check else codecs.getincrementaldecoder("utf-8")()
    offset = 0
    first_invalid: int | None = None
    nuls = 0
    longest = _LongestLine()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(chunk)
            longest.feed(chunk)
            if b"\x00" in chunk:
                nuls += chunk.count(b"\x00")
            if decoder is not None:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    first_invalid = offset + exc.start
                    decoder = None
            offset += len(chunk)
    if decoder is not None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            first_invalid = offset - 1
    return Scan(digest.hexdigest(), first_invalid, nuls, longest.longest, longest.longest_end)


def sha256_of(source: Path | str | bytes) -> str:
    """The dataset fingerprint: SHA-256 of the file's bytes, read in chunks."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return hashlib.sha256(source).hexdigest()
    return scan(Path(source), skip_utf8_check=True).sha256


def bom_encoding(head: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    return None


def _looks_utf16(head: bytes) -> str | None:
    """UTF-16 without a BOM: mostly-ASCII text has a NUL in every other byte."""
    sample = head[:4096]
    if len(sample) < 4:
        return None
    even = sample[0::2].count(0) / len(sample[0::2])
    odd = sample[1::2].count(0) / len(sample[1::2])
    if odd > 0.4 and even < 0.05:
        return "utf-16-le"
    if even > 0.4 and odd < 0.05:
        return "utf-16-be"
    return None


def _script(ch: str) -> str:
    first = unicodedata.name(ch, "?").split(" ")[0]
    return "CJK" if first in _EAST_ASIAN else first


def _plausibility(text: str) -> int:
    """How much a decoding reads like real words; wrong code pages score low.

    A word of two letters or more scores +1 when its letters share one script (and, in
    Latin script, its accented letters come one or two at a time, as in "Málaga", not
    "Ìîñêâà"), -1 otherwise; a symbol glued to a letter ("£ód") costs 1 and a control
    character 2.
    """
    score = 0
    for word in re.findall(r"[^\W\d_]+", text):
        if word.isascii() or len(word) == 1:
            continue
        scripts = {_script(ch) for ch in word}
        garbled = len(scripts) > 1 or ("LATIN" in scripts and _ACCENT_RUN.search(word))
        score += -1 if garbled else 1
    for match in re.finditer(r"[^\x00-\x7f]", text):
        ch, start, end = match.group(), match.start(), match.end()
        if ch.isalpha():
            continue
        if unicodedata.category(ch).startswith("C"):
            score -= 2
        elif (start and text[start - 1].isalpha()) or (end < len(text) and text[end].isalpha()):
            score -= 1
    return score


def _legacy_encoding(sample: bytes) -> str:
    """The encoding of text that is not UTF-8, among the code pages files really come in.

    charset-normalizer is unreliable on the few non-ASCII bytes of a typical CSV (it reads
    cp1252 as cp775), so common code pages are tried first, in order of how common they
    are, and the decoding that reads most like words wins; ties go to the commoner one.
    """
    best: tuple[int, str] | None = None
    for codec in _LEGACY_CODECS:
        try:
            score = _plausibility(sample.decode(codec))
        except UnicodeDecodeError:
            continue
        if best is None or score > best[0]:
            best = (score, codec)
    if best is not None:
        return best[1]
    import charset_normalizer

    match = charset_normalizer.from_bytes(sample).best()
    if match is None:
        return "latin-1"
    return codecs.lookup(match.encoding).name


def _sample_around(path: Path, offset: int, width: int = 16384) -> bytes:
    with open(path, "rb") as f:
        f.seek(max(0, offset - width))
        return f.read(2 * width)


@dataclass(frozen=True)
class Encoding:
    """How to read a file: `name` for the report, `codec` to transcode from (None when the
    bytes are usable as they are) and the decoder's `errors` policy."""

    name: str  # what the report says
    codec: str | None  # what to transcode from; None when the bytes are usable as they are
    errors: str = "strict"


def choose_encoding(path: Path, head: bytes, scan: Scan) -> Encoding:
    bom = bom_encoding(head)
    if bom is not None and bom != "utf-8-sig":
        return Encoding(bom, bom)
    if bom is None and scan.nul_bytes:
        utf16 = _looks_utf16(head)
        if utf16 is not None:
            return Encoding(utf16, utf16)
    if scan.first_invalid_utf8 is None:
        name = bom or "utf-8"
        return Encoding(name, "utf-8" if scan.nul_bytes else None)
    window = _sample_around(path, scan.first_invalid_utf8)
    if bom is not None or _mostly_utf8(window):
        return Encoding(f"{bom or 'utf-8'} (invalid bytes replaced)", "utf-8", "replace")
    codec = _legacy_encoding(head[:65536] + b"\n" + window)
    return Encoding(codec, codec)


def _mostly_utf8(sample: bytes) -> bool:
    """Most non-ASCII text around the invalid byte is valid UTF-8: a UTF-8 file with a few
    bad bytes, rather than a legacy code page (whose bytes rarely form UTF-8 by chance)."""
    text = sample.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 127) - bad
    return good >= bad


def decoded_head(head: bytes, encoding: Encoding) -> str:
    """The first 64 KiB as text, undecodable bytes replaced: enough to tell text from binary."""
    decoder = codecs.getincrementaldecoder(encoding.codec or "utf-8")(errors="replace")
    return decoder.decode(head[:65536])


def transcode(src: Path, dst: Path, encoding: Encoding) -> int:
    """Stream `src` into UTF-8 at `dst`, dropping NUL characters; returns how many.

    Raises `TranscodeError` at the first byte that does not decode (only possible with
    `errors="strict"`)."""
    decoder = codecs.getincrementaldecoder(encoding.codec or "utf-8")(errors=encoding.errors)
    removed = 0
    line = 1
    first = True
    with open(src, "rb") as fin, open(dst, "w", encoding="utf-8", newline="") as fout:
        for chunk in itertools.chain(iter(lambda: fin.read(CHUNK_BYTES), b""), [None]):
            try:
                text = decoder.decode(b"", final=True) if chunk is None else decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad_line = line + exc.object[: exc.start].count(b"\n")
                raise TranscodeError(bad_line, exc.object[exc.start]) from None
            if first and text:
                text = text.removeprefix("\ufeff")
                first = False
            line += text.count("\n")
            removed += text.count("\x00")
            fout.write(text.replace("\x00", ""))
    return removed
