"""A page's bytes -> its text: UTF-8, a byte-order mark, the charset an HTML page declares, or the legacy encoding
Firefox's detector (chardetng) finds.

Pages saved by wget, curl or a browser keep the bytes the site sent, and many sites still send Windows-1252,
Windows-1251, Shift_JIS, EUC-KR or GBK. Refusing those would drop whole non-Latin sites from a user's folder; a wrong
guess would put mojibake into the passages and citations. So the order is a browser's: a byte-order mark, then
valid UTF-8, then (HTML) the page's own declaration, then detection. Labels are read as the WHATWG Encoding Standard
reads them ("iso-8859-1" is Windows-1252, "Shift_JIS" is Microsoft's, "gb2312" is GB18030), because pages are
written for what browsers do with their labels.
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

# Byte-order marks, longest first: the UTF-32-LE mark begins with the UTF-16-LE one.
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
)
# How far into an HTML page its charset declaration is looked for (the WHATWG prescan reads 1,024 bytes; saved pages
# often put a comment or a long <script> first).
PRESCAN_BYTES = 4096
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?\bcharset\s*=\s*["']?\s*([A-Za-z0-9._:()+-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml\b[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._:+-]+)""", re.I)
# The Encoding Standard's labels (encoding.spec.whatwg.org, "Names and labels"), by the Python codec that decodes what
# browsers decode under them: Python lacks many ("windows-874", "x-sjis", "x-cp1252") and reads others differently
# ("iso-8859-1" is Windows-1252 to a browser). A page read as bytes is UTF-16 only with a byte-order mark, so the
# UTF-16 labels in its <meta> mean UTF-8. The "replacement" labels and x-user-defined are left to Python.
_LABELS_BY_CODEC = {
    "utf_8": "unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 x-unicode20utf8 unicodefffe utf-16be "
             "csunicode iso-10646-ucs-2 ucs-2 unicode unicodefeff utf-16 utf-16le",
    "cp866": "866 cp866 csibm866 ibm866",
    "iso8859_2": "csisolatin2 iso-8859-2 iso-ir-101 iso8859-2 iso88592 iso_8859-2 iso_8859-2:1987 l2 latin2",
    "iso8859_3": "csisolatin3 iso-8859-3 iso-ir-109 iso8859-3 iso88593 iso_8859-3 iso_8859-3:1988 l3 latin3",
    "iso8859_4": "csisolatin4 iso-8859-4 iso-ir-110 iso8859-4 iso88594 iso_8859-4 iso_8859-4:1988 l4 latin4",
    "iso8859_5": "csisolatincyrillic cyrillic iso-8859-5 iso-ir-144 iso8859-5 iso88595 iso_8859-5 iso_8859-5:1988",
    "iso8859_6": "arabic asmo-708 csiso88596e csiso88596i csisolatinarabic ecma-114 iso-8859-6 iso-8859-6-e "
                 "iso-8859-6-i iso-ir-127 iso8859-6 iso88596 iso_8859-6 iso_8859-6:1987",
    "iso8859_7": "csisolatingreek ecma-118 elot_928 greek greek8 iso-8859-7 iso-ir-126 iso8859-7 iso88597 iso_8859-7 "
                 "iso_8859-7:1987 sun_eu_greek",
    "iso8859_8": "csiso88598e csisolatinhebrew hebrew iso-8859-8 iso-8859-8-e iso-ir-138 iso8859-8 iso88598 "
                 "iso_8859-8 iso_8859-8:1988 visual csiso88598i iso-8859-8-i logical",
    "iso8859_10": "csisolatin6 iso-8859-10 iso-ir-157 iso8859-10 iso885910 l6 latin6",
    "iso8859_13": "iso-8859-13 iso8859-13 iso885913",
    "iso8859_14": "iso-8859-14 iso8859-14 iso885914",
    "iso8859_15": "csisolatin9 iso-8859-15 iso8859-15 iso885915 iso_8859-15 l9",
    "iso8859_16": "iso-8859-16",
    "koi8_r": "cskoi8r koi koi8 koi8-r koi8_r",
    "koi8_u": "koi8-ru koi8-u",
    "mac_roman": "csmacintosh mac macintosh x-mac-roman",
    "cp874": "dos-874 iso-8859-11 iso8859-11 iso885911 tis-620 windows-874",
    "cp1250": "cp1250 windows-1250 x-cp1250",
    "cp1251": "cp1251 windows-1251 x-cp1251",
    "cp1252": "ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 iso-ir-100 iso8859-1 iso88591 "
              "iso_8859-1 iso_8859-1:1987 l1 latin1 us-ascii windows-1252 x-cp1252",
    "cp1253": "cp1253 windows-1253 x-cp1253",
    "cp1254": "cp1254 csisolatin5 iso-8859-9 iso-ir-148 iso8859-9 iso88599 iso_8859-9 iso_8859-9:1989 l5 latin5 "
              "windows-1254 x-cp1254",
    "cp1255": "cp1255 windows-1255 x-cp1255",
    "cp1256": "cp1256 windows-1256 x-cp1256",
    "cp1257": "cp1257 windows-1257 x-cp1257",
    "cp1258": "cp1258 windows-1258 x-cp1258",
    "mac_cyrillic": "x-mac-cyrillic x-mac-ukrainian",
    "gb18030": "chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80 gbk iso-ir-58 x-gbk gb18030",
    "big5hkscs": "big5 big5-hkscs cn-big5 csbig5 x-x-big5",
    "euc_jp": "cseucpkdfmtjapanese euc-jp x-euc-jp",
    "iso2022_jp": "csiso2022jp iso-2022-jp",
    "cp932": "csshiftjis ms932 ms_kanji shift-jis shift_jis sjis windows-31j x-sjis",
    "cp949": "cseuckr csksc56011987 euc-kr iso-ir-149 korean ks_c_5601-1987 ks_c_5601-1989 ksc5601 ksc_5601 "
             "windows-949",
}
_CODEC_OF_LABEL = {label: codec for codec, labels in _LABELS_BY_CODEC.items() for label in labels.split()}
_NAMES = {"cp1252": "windows-1252", "cp1250": "windows-1250", "cp1251": "windows-1251", "cp1253": "windows-1253",
          "cp1254": "windows-1254", "cp1255": "windows-1255", "cp1256": "windows-1256", "cp1257": "windows-1257",
          "cp1258": "windows-1258", "cp874": "windows-874", "cp932": "Shift_JIS", "cp949": "EUC-KR",
          "gb18030": "GB18030", "big5hkscs": "Big5", "euc_jp": "EUC-JP", "iso2022_jp": "ISO-2022-JP",
          "koi8_r": "KOI8-R", "koi8_u": "KOI8-U", "cp866": "IBM866", "mac_roman": "macintosh",
          "mac_cyrillic": "x-mac-cyrillic", "utf_8": "UTF-8"}
# A UTF-8 page with a few broken bytes (a truncated download, one pasted Windows-1252 quote) is still UTF-8 when
# its valid multi-byte characters outnumber the broken bytes this many times.
UTF8_DAMAGE_RATIO = 4
# A legacy decoding may meet a few bytes its table leaves undefined (Windows-1252's 0x81); more than this share of
# the page means the guess is wrong, or the file is not text.
MAX_REPLACED_SHARE = 0.001


@dataclass(frozen=True)
class Decoded:
    """A file's text and how it was read: `encoding` as browsers name it ("UTF-8", "windows-1251"); `how` is empty
    for UTF-8 as it should be, else how the encoding was chosen ("declared by the page", "detected"), and how many
    bytes were undecodable."""

    text: str
    encoding: str
    how: str = ""

    def describe(self) -> str:
        return f"{self.encoding} ({self.how})" if self.how else self.encoding


def browser_codec(label: str) -> str | None:
    """The Python codec that decodes what browsers decode under `label`, or None for a label neither the Encoding
    Standard nor Python knows."""
    key = label.strip().lower()
    if key in _CODEC_OF_LABEL:
        return _CODEC_OF_LABEL[key]
    try:
        name = codecs.lookup(key).name  # a name the standard lacks but Python knows ("latin-1", "cp437")
    except LookupError:
        return None
    return _CODEC_OF_LABEL.get(name, name.replace("-", "_"))


def _name(codec: str) -> str:
    return _NAMES.get(codec, codec.upper().replace("_", "-").replace("ISO8859", "ISO-8859"))


def declared_charset(data: bytes) -> str | None:
    """The charset an HTML page declares near its start (<meta charset>, <meta http-equiv=Content-Type content=
    "...; charset=...">, or an XML declaration), as written; None without one."""
    head = data[:PRESCAN_BYTES]
    m = _XML_ENCODING.match(head) or _META_CHARSET.search(head)
    return m.group(1).decode("ascii") if m else None


def _lenient(data: bytes, codec: str) -> tuple[str, int] | None:
    """`data` in a legacy encoding, with bytes its table leaves undefined replaced, and how many were; None when that
    is more than a trace (the wrong encoding) or the codec is unknown."""
    try:
        text = data.decode(codec, errors="replace")
    except LookupError:
        return None
    bad = text.count("\ufffd")
    return (text, bad) if bad <= max(1, MAX_REPLACED_SHARE * len(data)) else None


def _replaced(bad: int) -> str:
    return f"{bad} undecodable byte{'s' if bad > 1 else ''} replaced" if bad else ""


def _damaged_utf8(data: bytes) -> Decoded | None:
    """A UTF-8 file with a few undecodable bytes, decoded with those replaced (as browsers show them)."""
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.count(b"\xef\xbf\xbd")
    good = sum(1 for ch in text if ord(ch) > 0x7F and ch != "\ufffd")
    if bad and good >= UTF8_DAMAGE_RATIO * bad and bad <= max(1, MAX_REPLACED_SHARE * len(data)):
        return Decoded(text, "UTF-8", _replaced(bad))
    return None


def _detected(data: bytes) -> Decoded | None:
    import chardetng_py  # only for a file that is neither UTF-8 nor declared: most folders never load it

    label = chardetng_py.detect(data, allow_utf8=False)
    codec = browser_codec(label) if label else None
    if codec is None:
        return None
    got = _lenient(data, codec)
    if got is None:
        return None
    text, bad = got
    return Decoded(text, _name(codec), "; ".join(filter(None, ("detected", _replaced(bad)))))


def decode(data: bytes, *, html: bool, declared: str | None = None) -> Decoded | str:
    """A file's bytes as text (a Decoded), or the reason they are not text (a str).

    A byte-order mark decides; else valid UTF-8 is UTF-8; else an HTML page's declared charset (`declared`, the
    charset its container names, as an HTTP header would; else the page's own), when the page decodes under it; else
    UTF-8 with a few damaged bytes; else the legacy encoding chardetng (Firefox's detector) finds. Without a
    byte-order mark, NUL bytes mean a binary file."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            name = codec.upper().removesuffix("-SIG")
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                return f"not valid {name} text despite its byte-order mark (bad byte at offset {exc.start})"
            if "\x00" in text[:8192]:
                return "binary file (contains NUL characters)"
            return Decoded(text, name)
    if b"\x00" in data[:8192]:
        return "binary file (contains NUL bytes)"
    if data.isascii() and b"\x1b$" in data:
        # ISO-2022-JP (Japanese mail and old pages) is 7-bit, so it is also valid UTF-8: its escapes tell it apart.
        got = _detected(data)
        if got is not None and got.encoding == "ISO-2022-JP":
            return got
    try:
        return Decoded(data.decode("utf-8"), "UTF-8")
    except UnicodeDecodeError:
        pass
    if html:
        label = declared or declared_charset(data)
        codec = browser_codec(label) if label else None
        got = _lenient(data, codec) if codec and codec != "utf_8" else None
        if got is not None:
            text, bad = got
            return Decoded(text, _name(codec), "; ".join(filter(None, ("declared by the page", _replaced(bad)))))
    got = _damaged_utf8(data) or _detected(data)
    if got is None:
        return ("not readable text: not UTF-8, and no legacy encoding (Windows-1252, Shift_JIS, GBK...) reads it "
                "cleanly; if it is text, save it as UTF-8")
    return got
