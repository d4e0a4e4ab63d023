"""A layer kept once: its unpacked files plus the tar's other bytes, not the blob too (a pull, an import).

A layer blob that is a plain (uncompressed) tar is its entries' headers, their file data and padding. When a
pull or an import unpacks such a layer as it is read (SplitStream: registry._LayerStream from the network,
FileStream from a file, plain or gzip), the file data land in the unpacked directory anyway; `Splitter` keeps
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


class SplitStream:
    """The unpacker's side of a layer kept once (store.unpack_stream): the plain tar, handed on in chunks by a
    subclass's _take() (the next chunk, None at its end, or it raises), and every byte of it fed to a Splitter.
    tarfile (seekable mode, forward seeks only) reads headers with read(); regular files' data go from the chunks
    straight to their files (copy_to). A pull (registry._LayerStream: a fetching thread) and an import
    (FileStream: a tar file, plain or gzip) are the two sources."""

    CHUNK = 1 << 20

    def __init__(self):
        self.view = memoryview(b"")
        self.pos = 0  # in the plain tar
        self.done = False
        self.splitter = None

    def _take(self):
        raise NotImplementedError

    def _next(self):
        """The next chunk of the plain tar into self.view (fed to the splitter); False at its end."""
        if self.done:
            return False
        try:
            item = self._take()
        except BaseException:
            self.done = True
            raise
        if item is None:
            self.done = True
            return False
        self.splitter.feed(item)
        self.view = memoryview(item)
        return True

    def drain(self):
        """Read the tar to its end (what follows its end blocks is fed to the splitter too)."""
        while True:
            self.view = memoryview(b"")
            if not self._next():
                break

    def read(self, n=-1):
        if n is None or n < 0:
            n = self.CHUNK
        parts = []
        while n > 0:
            if not self.view and not self._next():
                break
            part = self.view[:n]
            self.view = self.view[len(part):]
            parts.append(part)
            n -= len(part)
        data = b"".join(parts)
        self.pos += len(data)
        return data

    def copy_to(self, fd, size):
        """Write the next `size` bytes of the tar to the file descriptor; returns how many there were."""
        left = size
        while left:
            if not self.view and not self._next():
                break
            part = self.view[:left]
            done = 0
            while done < len(part):
                done += os.write(fd, part[done:])
            self.view = self.view[len(part):]
            left -= len(part)
            self.pos += len(part)
        return size - left

    def tell(self):
        return self.pos

    def seekable(self):
        return False

    def seek(self, offset, whence=0):
        if whence == 1:
            offset += self.pos
        elif whence != 0:
            raise OSError("a layer stream seeks forward from its start only")
        if offset < self.pos:
            raise OSError("a layer stream cannot seek backwards ({} < {})".format(offset, self.pos))
        while offset > self.pos:
            if not self.view and not self._next():
                break
            n = min(offset - self.pos, len(self.view))
            self.view = self.view[n:]
            self.pos += n
        return self.pos

    def close_split(self):
        """Write the split file's last records and close it."""
        if self.splitter is not None and not self.splitter.out.closed:
            self.splitter.close()
            self.splitter.out.close()


class NotStreamable(Exception):
    """A layer file that is neither a plain tar nor gzip (bzip2, xz, zstd, an old tar without the ustar magic)."""


class FileStream(SplitStream):
    """A layer tar file, plain or gzip, read once (an import): the file's bytes are hashed (`raw_digest`), a gzip
    one is inflated in bounded steps (a bomb stays a stream; members one after another, zero padding after the
    last as gzip allows), and the plain tar is hashed (`digest`, its size `size`) as the unpacker reads it.
    A broken gzip stream, or one cut short, raises BrokenArchive naming the file."""

    def __init__(self, path, split_path):
        import hashlib

        super().__init__()
        self.path = path
        self.name = path  # tarfile's name for the archive: its errors name the file
        self.split_path = split_path
        self.raw = None
        self.raw_hash = hashlib.sha256()
        self.plain_hash = hashlib.sha256()
        self.inflate = None
        self.pending = b""  # compressed bytes read but not inflated yet
        self.flushed = False
        self.size = 0
        self.raw_digest = self.digest = None

    def start(self):
        """Open the file and look at its first bytes; NotStreamable when it is neither a plain tar nor gzip."""
        import zlib

        self.raw = open(self.path, "rb", buffering=0)  # noqa: SIM115 - close()
        first = self._read_raw()
        if first[:2] == b"\x1f\x8b":
            self.inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif not is_plain_tar(bytes(first[:BLOCK])):
            raise NotStreamable(self.path)
        self.pending = first
        self.splitter = Splitter(open(self.split_path, "wb"))  # noqa: SIM115 - close_split()/close()

    def _read_raw(self):
        buf = bytearray(self.CHUNK)
        view = memoryview(buf)
        got = 0
        while got < len(buf):
            n = self.raw.readinto(view[got:])
            if not n:
                break
            got += n
        view.release()
        del buf[got:]
        self.raw_hash.update(buf)
        return buf

    def _broken(self, what):
        from hostprep.runtime import tarsafe

        return tarsafe.BrokenArchive("{}: broken gzip data: {}".format(os.path.basename(self.path), what))

    def _take(self):
        import zlib

        while True:
            if self.inflate is None:
                chunk, self.pending = (self.pending or self._read_raw()), b""
                if not chunk:
                    return None
                self.plain_hash.update(chunk)
                self.size += len(chunk)
                return chunk
            if not self.pending:
                self.pending = self._read_raw()
                if not self.pending:
                    out = b""
                    if not self.inflate.eof and not self.flushed:  # what zlib still holds
                        self.flushed = True
                        try:
                            out = self.inflate.flush()
                        except zlib.error as exc:
                            raise self._broken(exc)
                    if out:
                        self.plain_hash.update(out)
                        self.size += len(out)
                        return out
                    if not self.inflate.eof:
                        raise self._broken("the gzip stream is cut short")
                    return None
            if self.inflate.eof:  # one member ended: another follows, or zero padding to the end
                rest = self.pending.lstrip(b"\0")
                if not rest:
                    self.pending = b""
                    continue
                self.inflate, self.pending = zlib.decompressobj(16 + zlib.MAX_WBITS), rest
            try:
                out = self.inflate.decompress(self.pending, self.CHUNK)
            except zlib.error as exc:
                raise self._broken(exc)
            self.pending = self.inflate.unused_data if self.inflate.eof else self.inflate.unconsumed_tail
            if out:
                self.plain_hash.update(out)
                self.size += len(out)
                return out

    def finish(self):
        """Read the rest of the file and close the split file; returns (split file, the regular files it counts,
        None: the plain tar's sha256, `digest`, is the layer's own digest)."""
        self.drain()
        self.raw_digest = "sha256:" + self.raw_hash.hexdigest()
        self.digest = "sha256:" + self.plain_hash.hexdigest()
        self.close_split()
        return self.split_path, self.splitter.files, None

    def close(self):
        if self.raw is not None:
            self.raw.close()
        if self.splitter is not None and not self.splitter.out.closed:
            self.splitter.out.close()
