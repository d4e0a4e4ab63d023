"""A pulled uncompressed layer kept once: its unpacked files plus the tar's other bytes, not the blob too.

A layer blob that is a plain (uncompressed) tar is its entries' headers, their file data and padding. When a
pull unpacks such a layer as it arrives, the file data land in the unpacked directory anyway; `Splitter` keeps
everything else (every header block, PAX and GNU long-name records, padding, the end blocks) in a split file,
and the file data's places as lengths. `rebuild` gives the exact blob back from the split file and the
unpacked files (the store does it when a blob is first needed: a push, a save, a new unpack), checked against
the layer's digest. Layer directories are never written after they are complete (they are overlayfs lower
layers), so the files stay what they were; the store checks each one's inode and size before a layer is kept
this way, and keeps the blob instead when an entry was overwritten or removed by a later one.

Split file: records of a 1-byte kind and an 8-byte big-endian length: b"R" (raw bytes, which follow) or b"D"
(that many bytes of the next regular file, in the order of SPLIT + ".paths", a JSON list of paths relative to
the unpacked root). Compressed blobs are kept as they are (the compressed bytes cannot be made again).
"""

import json
import os
import struct

BLOCK = 512
REGULAR = (b"0", b"\0", b"7")
_REC = struct.Struct(">cQ")


def is_plain_tar(first):
    """Whether a blob's first bytes are an uncompressed tar (gzip, bzip2, xz and zstd magic say otherwise)."""
    magics = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")
    return len(first) >= BLOCK and not first.startswith(magics) and first[257:262] == b"ustar"


def _octal(field):
    if field[:1] and field[0] & 0x80:  # base-256 (GNU) for large values
        value = field[0] & 0x3F
        for byte in field[1:]:
            value = (value << 8) | byte
        return value
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def _pax_size(data):
    """The `size` a PAX extended header sets for the next entry, if any."""
    pos = 0
    found = None
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(data[pos:space])
        except ValueError:
            break
        if length <= 0:
            break
        record = data[space + 1:pos + length - 1]
        key, _, value = record.partition(b"=")
        if key == b"size":
            try:
                found = int(value)
            except ValueError:
                pass
        pos += length
    return found


class Splitter:
    """Fed the blob's bytes in order; writes the split file, counting each regular file's data as a length."""

    def __init__(self, out):
        self.out = out
        self.header = b""
        self.raw = []  # raw bytes waiting to be written as one record
        self.raw_len = 0
        self.data_left = 0  # bytes of the current regular file still to come
        self.data_run = 0
        self.skip_raw = 0  # bytes of non-file data (PAX/long-name records, padding) still to come, kept raw
        self.pax = b""
        self.pax_left = 0
        self.next_size = None
        self.ended = False
        self.files = 0  # regular files with data, in tar order

    def _flush_raw(self):
        if self.raw_len:
            self.out.write(_REC.pack(b"R", self.raw_len))
            for part in self.raw:
                self.out.write(part)
            self.raw, self.raw_len = [], 0

    def _keep(self, data):
        if data:
            if self.data_run:
                self.out.write(_REC.pack(b"D", self.data_run))
                self.data_run = 0
            self.raw.append(data)
            self.raw_len += len(data)

    def feed(self, chunk):
        view = memoryview(chunk)
        while view:
            if self.ended:
                self._keep(bytes(view))
                return
            if self.data_left:
                n = min(self.data_left, len(view))
                if not self.data_run:
                    self._flush_raw()
                self.data_run += n
                self.data_left -= n
                view = view[n:]
                continue
            if self.skip_raw:
                n = min(self.skip_raw, len(view))
                part = bytes(view[:n])
                if self.pax_left:
                    take = min(self.pax_left, n)
                    self.pax += part[:take]
                    self.pax_left -= take
                    if not self.pax_left:
                        size = _pax_size(self.pax)
                        if size is not None:
                            self.next_size = size
                self._keep(part)
                self.skip_raw -= n
                view = view[n:]
                continue
            n = min(BLOCK - len(self.header), len(view))
            self.header += bytes(view[:n])
            view = view[n:]
            if len(self.header) < BLOCK:
                continue
            block, self.header = self.header, b""
            self._keep(block)
            if block == b"\0" * BLOCK:
                self.ended = True  # the end blocks and whatever padding follows: raw
                continue
            kind = block[156:157]
            size = _octal(block[124:136])
            if kind in (b"x", b"g", b"L", b"K"):
                self.skip_raw = size + (-size) % BLOCK
                if kind == b"x":
                    self.pax, self.pax_left = b"", size
                continue
            if self.next_size is not None:
                size, self.next_size = self.next_size, None
            if kind in REGULAR and size:
                self.files += 1
                self._flush_raw()
                self.data_left = size
                self.skip_raw = (-size) % BLOCK
            elif kind not in (b"1", b"2", b"3", b"4", b"5", b"6"):  # GNU sparse and others: their data raw
                self.skip_raw = size + (-size) % BLOCK

    def close(self):
        if self.data_run:
            self.out.write(_REC.pack(b"D", self.data_run))
            self.data_run = 0
        self._flush_raw()


def rebuild(split_path, root, out):
    """Write the blob (raw records and the unpacked files' data, in order) to the file object `out`."""
    with open(split_path + ".paths") as handle:
        paths = json.load(handle)
    index = 0
    with open(split_path, "rb") as split:
        while True:
            head = split.read(_REC.size)
            if not head:
                break
            kind, length = _REC.unpack(head)
            if kind == b"R":
                left = length
                while left:
                    part = split.read(min(left, 1 << 20))
                    if not part:
                        raise OSError("split record cut short")
                    out.write(part)
                    left -= len(part)
                continue
            while length:  # one D record may span no more than one file: a file's data is one run
                with open(os.path.join(root, paths[index]), "rb") as src:
                    left = length
                    while left:
                        part = src.read(min(left, 1 << 20))
                        if not part:
                            raise OSError("{} is shorter than the layer says".format(paths[index]))
                        out.write(part)
                        left -= len(part)
                index += 1
                length = 0
