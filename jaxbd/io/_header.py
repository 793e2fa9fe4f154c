"""The framing of a file: magic bytes, version, the header's length and sha256, the payload's.

The layout is drawn in `_format`. `read` checks all of it (truncation, checksums, kind,
version, size limits) before any part of the header is interpreted.
"""

import hashlib
import json
import struct


FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
MAGIC_MODEL = b"JAXBD\x00MD"
MAGIC_KEY = b"JAXBD\x00KY"
PREFIX = struct.Struct(">8sHI32s")  # magic, version, header length, header sha256
KIND_NAME = {MAGIC_MODEL: "model", MAGIC_KEY: "backdoor-key"}
MAX_DEPTH = 100
MAX_HEADER_BYTES = 1 << 28


def frame(magic: bytes, header: dict, payload: bytes) -> bytes:
    """The whole file: the prefix, the header as compact JSON, the payload."""
    hbytes = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    prefix = PREFIX.pack(magic, FORMAT_VERSION, len(hbytes), hashlib.sha256(hbytes).digest())
    return prefix + hbytes + payload


def read(data: bytes, path: str, expect: bytes) -> tuple[int, dict, bytes]:
    """Check the framing and checksums; returns `(version, header, payload)`."""
    want = KIND_NAME[expect]
    if len(data) < PREFIX.size:
        if data[:5] == b"JAXBD" or len(data) == 0:
            raise ValueError(
                f"{path!r} is truncated ({len(data)} bytes): not a complete jaxbd file."
            )
        raise ValueError(f"{path!r} is not a jaxbd {want} file (no jaxbd header).")
    magic, version, hlen, hsha = PREFIX.unpack_from(data)
    if magic not in KIND_NAME:
        raise ValueError(f"{path!r} is not a jaxbd {want} file (bad magic bytes {magic!r}).")
    if magic != expect:
        other = "jaxbd.io.load_key" if magic == MAGIC_KEY else "jaxbd.io.load"
        raise ValueError(
            f"{path!r} is a jaxbd {KIND_NAME[magic]} file, not a {want} file; open it with {other}."
        )
    if version not in READABLE_VERSIONS:
        newer = version > FORMAT_VERSION
        raise ValueError(
            f"{path!r} has jaxbd file-format version {version}; this jaxbd reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}"
            + ("; upgrade jaxbd to read it." if newer else "; re-save it with jaxbd >= 0.2.")
        )
    if hlen > MAX_HEADER_BYTES:
        raise ValueError(f"{path!r}: header of {hlen} bytes is too large (corrupted file?).")
    start = PREFIX.size
    hbytes = data[start : start + hlen]
    if len(hbytes) < hlen:
        raise ValueError(f"{path!r} is truncated (header cut short).")
    if hashlib.sha256(hbytes).digest() != hsha:
        raise ValueError(f"{path!r} is corrupted: header checksum mismatch.")
    try:
        header = json.loads(hbytes.decode("utf-8"))
    except RecursionError:
        raise ValueError(f"{path!r}: malformed header (nested too deeply).") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path!r}: malformed header (not UTF-8 JSON: {e}).") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path!r}: malformed header (not a JSON object).")
    if header.get("format_version") != version or header.get("format") != "jaxbd-" + want:
        raise ValueError(f"{path!r}: inconsistent header (format {header.get('format')!r:.60}).")
    payload = data[start + hlen :]
    n, sha = header.get("payload_bytes"), header.get("payload_sha256")
    if isinstance(n, bool) or not isinstance(n, int) or not isinstance(sha, str):
        raise ValueError(f"{path!r}: malformed header (no payload length/checksum).")
    if len(payload) < n:
        raise ValueError(f"{path!r} is truncated: payload has {len(payload)} of {n} bytes.")
    if len(payload) > n:
        raise ValueError(f"{path!r} is corrupted: trailing bytes after the payload.")
    if hashlib.sha256(payload).hexdigest() != sha:
        raise ValueError(f"{path!r} is corrupted: payload checksum (sha256) mismatch.")
    return version, header, payload
