//! PNG for the canvas: the snapshot the server keeps and sends, and the
//! file `--save-canvas` and the Save button write. A small deflate encoder
//! (LZ77 with short hash chains, Huffman codes made for the data) and an
//! inflater (all block types), so no image or compression crate is needed.
//!
//! Written: 8-bit, non-interlaced, palette (type 3) when the picture has at
//! most 256 colours, else RGB (type 2), filter 0, one IDAT. Read: 8-bit
//! types 2 and 3, any filter; anything else is refused with a reason.

use super::raster::Raster;
use crate::server::journal::crc32;

const SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// The PNG of a picture.
pub fn encode(r: &Raster) -> Vec<u8> {
    // The palette, if the picture has few colours (runs make lookups rare).
    let mut palette: Vec<u32> = Vec::new();
    let mut last = u32::MAX;
    for p in r.px.chunks_exact(3) {
        let c = u32::from(p[0]) << 16 | u32::from(p[1]) << 8 | u32::from(p[2]);
        if c != last && !palette.contains(&c) {
            palette.push(c);
            if palette.len() > 256 {
                break;
            }
        }
        last = c;
    }
    let indexed = palette.len() <= 256;
    palette.sort_unstable();
    let bpp = if indexed { 1 } else { 3 };
    let mut raw = Vec::with_capacity(r.h * (r.w * bpp + 1));
    let mut last = (u32::MAX, 0u8);
    for row in r.px.chunks_exact(r.w * 3) {
        raw.push(0);
        if !indexed {
            raw.extend_from_slice(row);
            continue;
        }
        for p in row.chunks_exact(3) {
            let c = u32::from(p[0]) << 16 | u32::from(p[1]) << 8 | u32::from(p[2]);
            if c != last.0 {
                last = (c, palette.binary_search(&c).unwrap_or(0) as u8);
            }
            raw.push(last.1);
        }
    }
    let mut out = SIGNATURE.to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(r.w as u32).to_be_bytes());
    ihdr.extend_from_slice(&(r.h as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, if indexed { 3 } else { 2 }, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    if indexed {
        let plte: Vec<u8> = palette.iter().flat_map(|c| super::raster::rgb(*c)).collect();
        chunk(&mut out, b"PLTE", &plte);
    }
    chunk(&mut out, b"IDAT", &zlib(&raw));
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// Decodes a PNG this module can read (see the module doc).
pub fn decode(png: &[u8]) -> Result<Raster, &'static str> {
    let mut rest = png.strip_prefix(SIGNATURE).ok_or("not a PNG")?;
    let (mut w, mut h, mut kind) = (0usize, 0usize, 0u8);
    let (mut plte, mut idat) = (Vec::new(), Vec::new());
    loop {
        if rest.len() < 12 {
            return Err("truncated PNG");
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        // (Not `12 + len`: that wraps on a 32-bit Pi.)
        if rest.len() - 12 < len {
            return Err("truncated PNG");
        }
        let (body, crc) = (&rest[4..8 + len], &rest[8 + len..12 + len]);
        if crc32(body) != u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]) {
            return Err("PNG chunk CRC mismatch");
        }
        let data = &body[4..];
        match &body[..4] {
            b"IHDR" if data.len() == 13 => {
                w = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
                h = u32::from_be_bytes([data[4], data[5], data[6], data[7]]) as usize;
                kind = data[9];
                if data[8] != 8 || !(kind == 2 || kind == 3) || data[10] != 0 || data[11] != 0 || data[12] != 0 {
                    return Err("unsupported PNG format (8-bit RGB or palette only)");
                }
                // No larger than the canvas: what is decoded is a snapshot
                // from the network, and its size bounds what inflating it takes.
                if w == 0 || h == 0 || w > usize::from(super::WIDTH) || h > usize::from(super::HEIGHT) {
                    return Err("unsupported PNG size");
                }
            }
            b"PLTE" => plte = data.to_vec(),
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => break,
            _ => {}
        }
        rest = &rest[12 + len..];
    }
    if w == 0 {
        return Err("PNG without IHDR");
    }
    let bpp = if kind == 3 { 1 } else { 3 };
    let stride = w * bpp;
    let raw = unzlib(&idat, h * (stride + 1))?;
    if raw.len() != h * (stride + 1) {
        return Err("PNG image data has the wrong size");
    }
    let mut r = Raster::new(w, h);
    let mut prev = vec![0u8; stride];
    let mut cur = vec![0u8; stride];
    for (y, line) in raw.chunks_exact(stride + 1).enumerate() {
        let filter = line[0];
        for i in 0..stride {
            let a = if i >= bpp { cur[i - bpp] } else { 0 };
            let (b, c) = (prev[i], if i >= bpp { prev[i - bpp] } else { 0 });
            let pred = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                4 => {
                    let p = i16::from(a) + i16::from(b) - i16::from(c);
                    let (pa, pb, pc) = ((p - i16::from(a)).abs(), (p - i16::from(b)).abs(), (p - i16::from(c)).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                _ => return Err("bad PNG filter"),
            };
            cur[i] = line[1 + i].wrapping_add(pred);
        }
        let out = &mut r.px[y * w * 3..(y + 1) * w * 3];
        if kind == 3 {
            for (o, &ix) in out.chunks_exact_mut(3).zip(&cur) {
                let p =
                    plte.get(usize::from(ix) * 3..usize::from(ix) * 3 + 3).ok_or("PNG palette index out of range")?;
                o.copy_from_slice(p);
            }
        } else {
            out.copy_from_slice(&cur);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    Ok(r)
}

// ---- zlib and deflate ----

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for block in data.chunks(5552) {
        for &x in block {
            a += u32::from(x);
            b += a;
        }
        (a, b) = (a % 65521, b % 65521);
    }
    b << 16 | a
}

struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter {
    /// Appends `n` bits of `v`, least significant first.
    fn put(&mut self, v: u32, n: u32) {
        self.acc |= u64::from(v) << self.n;
        self.n += n;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// Appends a Huffman code (sent most significant bit first).
    fn code(&mut self, code: u32, len: u32) {
        if len > 0 {
            self.put(code.reverse_bits() >> (32 - len), len);
        }
    }
}

/// Base and extra bits of length code `i` (symbol 257 + i) and distance code `i`.
fn len_code(i: usize) -> (usize, u32) {
    match i {
        0..=7 => (3 + i, 0),
        28 => (258, 0),
        _ => {
            let e = (i / 4 - 1) as u32;
            (((4 + (i & 3)) << e) + 3, e)
        }
    }
}

fn dist_code(i: usize) -> (usize, u32) {
    if i < 4 {
        return (i + 1, 0);
    }
    let e = (i / 2 - 1) as u32;
    (((2 + (i & 1)) << e) + 1, e)
}

const WINDOW: usize = 32 * 1024;
const HASH_BITS: u32 = 15;
const CHAIN: usize = 16;

/// A zlib stream of `data`: one deflate block, LZ77 then Huffman codes
/// made for this data (a picture uses few byte values: about three bits
/// each instead of eight).
fn zlib(data: &[u8]) -> Vec<u8> {
    let tokens = lz77(data);
    // Symbol counts: literals and lengths, then distances.
    let (mut lit, mut dist) = ([0u32; 286], [0u32; 30]);
    for &t in &tokens {
        match split(t) {
            (len, 0) => lit[len] += 1,
            (len, d) => {
                lit[257 + code_of(len, len_code, 29)] += 1;
                dist[code_of(d, dist_code, 30)] += 1;
            }
        }
    }
    lit[256] = 1;
    let (ll, dl) = (huffman_lengths(&lit, 15), huffman_lengths(&dist, 15));
    let nlit = ll.iter().rposition(|&l| l > 0).map_or(257, |i| (i + 1).max(257));
    let mut dl = dl;
    if dl.iter().all(|&l| l == 0) {
        dl[0] = 1;
    }
    let ndist = dl.iter().rposition(|&l| l > 0).map_or(1, |i| i + 1);
    let all: Vec<u8> = ll[..nlit].iter().chain(&dl[..ndist]).copied().collect();
    let mut cl_freq = [0u32; 19];
    for &l in &all {
        cl_freq[usize::from(l)] += 1;
    }
    let cl = huffman_lengths(&cl_freq, 7);
    const ORDER: [usize; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
    let ncl = ORDER.iter().rposition(|&i| cl[i] > 0).map_or(4, |i| (i + 1).max(4));
    let mut w = BitWriter { out: vec![0x78, 0x01], acc: 0, n: 0 };
    w.put(1, 1); // the last block
    w.put(2, 2); // dynamic Huffman codes
    w.put((nlit - 257) as u32, 5);
    w.put((ndist - 1) as u32, 5);
    w.put((ncl - 4) as u32, 4);
    for &i in &ORDER[..ncl] {
        w.put(u32::from(cl[i]), 3);
    }
    let (clc, llc, dlc) = (canonical(&cl), canonical(&ll), canonical(&dl));
    for &l in &all {
        w.code(clc[usize::from(l)], u32::from(cl[usize::from(l)]));
    }
    let sym = |w: &mut BitWriter, s: usize| w.code(llc[s], u32::from(ll[s]));
    for &t in &tokens {
        match split(t) {
            (b, 0) => sym(&mut w, b),
            (len, d) => {
                let li = code_of(len, len_code, 29);
                let (base, extra) = len_code(li);
                sym(&mut w, 257 + li);
                w.put((len - base) as u32, extra);
                let di = code_of(d, dist_code, 30);
                let (base, extra) = dist_code(di);
                w.code(dlc[di], u32::from(dl[di]));
                w.put((d - base) as u32, extra);
            }
        }
    }
    sym(&mut w, 256);
    w.put(0, 7); // flush the last byte
    let mut out = w.out;
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

/// A token: a literal byte (distance 0) or a match (length, distance).
fn split(t: u32) -> (usize, usize) {
    ((t >> 16) as usize, (t & 0xffff) as usize)
}

/// The code whose base is the largest not above `v`.
fn code_of(v: usize, table: fn(usize) -> (usize, u32), n: usize) -> usize {
    (0..n).rev().find(|&k| table(k).0 <= v).unwrap_or(0)
}

/// Greedy LZ77 with short hash chains over a 32 KiB window.
fn lz77(data: &[u8]) -> Vec<u32> {
    let mut tokens = Vec::with_capacity(data.len() / 8);
    let mut head = vec![u32::MAX; 1 << HASH_BITS];
    let mut prev = vec![u32::MAX; WINDOW];
    let hash = |i: usize| {
        let v = u32::from(data[i]) | u32::from(data[i + 1]) << 8 | u32::from(data[i + 2]) << 16;
        (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
    };
    let insert = |i: usize, head: &mut Vec<u32>, prev: &mut Vec<u32>| {
        if i + 2 < data.len() {
            let h = hash(i);
            prev[i % WINDOW] = head[h];
            head[h] = i as u32;
        }
    };
    let mut i = 0;
    while i < data.len() {
        let (mut best, mut best_d) = (0, 0);
        if i + 2 < data.len() {
            let mut cand = head[hash(i)];
            let max = (data.len() - i).min(258);
            for _ in 0..CHAIN {
                if cand == u32::MAX || i - cand as usize > WINDOW - 1 {
                    break;
                }
                let c = cand as usize;
                let l = data[c..c + max].iter().zip(&data[i..i + max]).take_while(|(a, b)| a == b).count();
                if l > best {
                    (best, best_d) = (l, i - c);
                    if l == max {
                        break;
                    }
                }
                let next = prev[c % WINDOW];
                if next == u32::MAX || next >= cand {
                    break;
                }
                cand = next;
            }
        }
        if best >= 3 {
            tokens.push((best as u32) << 16 | best_d as u32);
            // Long matches are runs of paper: indexing every byte of them
            // costs time and finds nothing better.
            let step = if best > 32 { best } else { 1 };
            for k in (i..i + best).step_by(step) {
                insert(k, &mut head, &mut prev);
            }
            i += best;
        } else {
            tokens.push(u32::from(data[i]) << 16);
            insert(i, &mut head, &mut prev);
            i += 1;
        }
    }
    tokens
}

/// Huffman code lengths for these symbol counts, none longer than `limit`
/// (when too long, the counts are halved and the tree built again).
fn huffman_lengths(freq: &[u32], limit: u8) -> Vec<u8> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut f = freq.to_vec();
    loop {
        let mut len = vec![0u8; f.len()];
        let leaves: Vec<usize> = (0..f.len()).filter(|&i| f[i] > 0).collect();
        if leaves.len() < 2 {
            if let Some(&i) = leaves.first() {
                len[i] = 1;
            }
            return len;
        }
        // Nodes: the leaves, then the joined ones; each knows its parent.
        let mut parent = vec![usize::MAX; 2 * leaves.len() - 1];
        let mut heap: BinaryHeap<Reverse<(u64, usize)>> =
            leaves.iter().enumerate().map(|(n, &i)| Reverse((u64::from(f[i]), n))).collect();
        let mut next = leaves.len();
        while let (Some(Reverse((wa, a))), Some(Reverse((wb, b)))) = (heap.pop(), heap.pop()) {
            parent[a] = next;
            parent[b] = next;
            heap.push(Reverse((wa + wb, next)));
            next += 1;
        }
        let mut depth = vec![0u8; parent.len()];
        for n in (0..parent.len() - 1).rev() {
            depth[n] = depth[parent[n]] + 1;
        }
        if depth[..leaves.len()].iter().all(|&d| d <= limit) {
            for (n, &i) in leaves.iter().enumerate() {
                len[i] = depth[n];
            }
            return len;
        }
        for w in f.iter_mut().filter(|w| **w > 0) {
            *w = w.div_ceil(2);
        }
    }
}

/// The canonical codes of these lengths (RFC 1951, 3.2.2).
fn canonical(len: &[u8]) -> Vec<u32> {
    let mut count = [0u32; 16];
    for &l in len {
        count[usize::from(l)] += 1;
    }
    count[0] = 0;
    let mut next = [0u32; 16];
    for b in 1..16 {
        next[b] = (next[b - 1] + count[b - 1]) << 1;
    }
    len.iter()
        .map(|&l| {
            let c = next[usize::from(l)];
            next[usize::from(l)] += 1;
            c
        })
        .collect()
}

struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u32,
    n: u32,
}

impl BitReader<'_> {
    fn bits(&mut self, n: u32) -> Result<u32, &'static str> {
        while self.n < n {
            let b = *self.data.get(self.pos).ok_or("truncated deflate stream")?;
            self.pos += 1;
            self.acc |= u32::from(b) << self.n;
            self.n += 8;
        }
        let v = self.acc & ((1u64 << n) - 1) as u32;
        self.acc = if n == 32 { 0 } else { self.acc >> n };
        self.n -= n;
        Ok(v)
    }

    /// One symbol of a canonical Huffman code (counts per length, symbols in order).
    fn decode(&mut self, h: &Huffman) -> Result<u16, &'static str> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= self.bits(1)? as i32;
            let count = i32::from(h.counts[len]);
            if code - first < count {
                return Ok(h.symbols[(index + code - first) as usize]);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err("bad Huffman code")
    }
}

struct Huffman {
    counts: [u16; 16],
    symbols: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Huffman {
        let mut counts = [0u16; 16];
        for &l in lengths {
            counts[usize::from(l)] += 1;
        }
        counts[0] = 0;
        let mut symbols = Vec::with_capacity(lengths.len());
        for len in 1..16 {
            symbols.extend((0..lengths.len() as u16).filter(|&s| lengths[usize::from(s)] == len));
        }
        Huffman { counts, symbols }
    }
}

/// The data of a zlib stream, refusing to grow past `limit` bytes.
fn unzlib(z: &[u8], limit: usize) -> Result<Vec<u8>, &'static str> {
    if z.len() < 6 || z[0] & 0x0f != 8 || (u16::from(z[0]) << 8 | u16::from(z[1])) % 31 != 0 || z[1] & 0x20 != 0 {
        return Err("bad zlib header");
    }
    let mut r = BitReader { data: &z[2..], pos: 0, acc: 0, n: 0 };
    let mut out: Vec<u8> = Vec::with_capacity(limit);
    loop {
        let last = r.bits(1)?;
        match r.bits(2)? {
            0 => {
                (r.acc, r.n) = (0, 0);
                let d = r.data.get(r.pos..r.pos + 4).ok_or("truncated deflate stream")?;
                let len = usize::from(u16::from_le_bytes([d[0], d[1]]));
                r.pos += 4;
                out.extend_from_slice(r.data.get(r.pos..r.pos + len).ok_or("truncated deflate stream")?);
                r.pos += len;
            }
            kind @ (1 | 2) => {
                let (lit, dist) = if kind == 1 {
                    let mut l = [8u8; 288];
                    l[144..256].fill(9);
                    l[256..280].fill(7);
                    (Huffman::new(&l), Huffman::new(&[5; 30]))
                } else {
                    dynamic_tables(&mut r)?
                };
                loop {
                    let s = usize::from(r.decode(&lit)?);
                    if s < 256 {
                        out.push(s as u8);
                    } else if s == 256 {
                        break;
                    } else {
                        let (base, extra) = len_code(s.checked_sub(257).filter(|&i| i < 29).ok_or("bad length")?);
                        let len = base + r.bits(extra)? as usize;
                        let di = usize::from(r.decode(&dist)?);
                        let (base, extra) = if di < 30 { dist_code(di) } else { return Err("bad distance") };
                        let d = base + r.bits(extra)? as usize;
                        if d > out.len() {
                            return Err("distance too far back");
                        }
                        for _ in 0..len {
                            out.push(out[out.len() - d]);
                        }
                    }
                    if out.len() > limit {
                        return Err("PNG image data too large");
                    }
                }
            }
            _ => return Err("bad deflate block type"),
        }
        if out.len() > limit {
            return Err("PNG image data too large");
        }
        if last == 1 {
            break;
        }
    }
    let at = 2 + r.pos;
    let sum = z.get(at..at + 4).ok_or("truncated zlib stream")?;
    if adler32(&out) != u32::from_be_bytes([sum[0], sum[1], sum[2], sum[3]]) {
        return Err("zlib checksum mismatch");
    }
    Ok(out)
}

fn dynamic_tables(r: &mut BitReader<'_>) -> Result<(Huffman, Huffman), &'static str> {
    const ORDER: [usize; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
    let nlen = r.bits(5)? as usize + 257;
    let ndist = r.bits(5)? as usize + 1;
    let ncode = r.bits(4)? as usize + 4;
    let mut cl = [0u8; 19];
    for &i in &ORDER[..ncode] {
        cl[i] = r.bits(3)? as u8;
    }
    let clh = Huffman::new(&cl);
    let mut lengths = Vec::with_capacity(nlen + ndist);
    while lengths.len() < nlen + ndist {
        let (v, n) = match r.decode(&clh)? {
            s @ 0..=15 => (s as u8, 1),
            16 => (*lengths.last().ok_or("bad code lengths")?, 3 + r.bits(2)?),
            17 => (0, 3 + r.bits(3)?),
            _ => (0, 11 + r.bits(7)?),
        };
        lengths.extend(std::iter::repeat_n(v, n as usize));
    }
    if lengths.len() != nlen + ndist {
        return Err("bad code lengths");
    }
    Ok((Huffman::new(&lengths[..nlen]), Huffman::new(&lengths[nlen..])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canvas::Stroke;

    /// From the network: a chunk length near 4 GiB (which wrapped `12 + len`
    /// on 32-bit targets) and an image larger than the canvas are refused.
    #[test]
    fn hostile_headers_are_refused() {
        let mut png = SIGNATURE.to_vec();
        png.extend_from_slice(&0xffff_fff8u32.to_be_bytes());
        png.extend_from_slice(b"IHDRxxxxxxxxxxxxxxxxxxxx");
        assert_eq!(decode(&png).err(), Some("truncated PNG"));
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&8192u32.to_be_bytes());
        ihdr.extend_from_slice(&1000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        let mut png = SIGNATURE.to_vec();
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(&ihdr);
        png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
        assert_eq!(decode(&png).err(), Some("unsupported PNG size"));
    }

    fn seg(color: u32, width: u8, points: &[(u16, u16)]) -> Stroke {
        let mut s = Stroke { id: 1, color, width, points: Default::default() };
        for p in points {
            s.points.push(*p).unwrap();
        }
        s
    }

    #[test]
    fn zlib_round_trips() {
        for data in [
            &b""[..],
            b"a",
            b"abcabcabcabcabcabc",
            &[0u8; 100_000],
            &(0..70_000u32).map(|i| (i * 7 % 251) as u8).collect::<Vec<_>>(),
        ] {
            let z = zlib(data);
            assert_eq!(unzlib(&z, data.len()).unwrap(), data);
        }
        // A stored block, as other encoders write them.
        let stored = [0x78, 0x01, 0x01, 0x03, 0x00, 0xfc, 0xff, b'a', b'b', b'c', 0x02, 0x4d, 0x01, 0x27];
        assert_eq!(unzlib(&stored, 10).unwrap(), b"abc");
        assert!(unzlib(&stored, 2).is_err());
    }

    #[test]
    fn png_round_trips_in_both_formats() {
        let mut r = Raster::blank();
        r.paint(&seg(0xff0000, 9, &[(10, 10), (300, 200), (1500, 900)]));
        let png = encode(&r);
        assert_eq!(png[25], 3, "few colours: a palette");
        assert!(png.len() < 20_000, "{} bytes", png.len());
        assert!(decode(&png).unwrap() == r);
        // More than 256 colours: RGB.
        for i in 0..300u32 {
            r.paint(&seg(i * 0x010203, 3, &[(i as u16 * 5, 500)]));
        }
        let png = encode(&r);
        assert_eq!(png[25], 2);
        assert!(decode(&png).unwrap() == r);
    }

    #[test]
    fn bad_pngs_are_refused() {
        let png = encode(&Raster::new(4, 4));
        assert!(decode(&png[..png.len() - 5]).is_err());
        let mut bad = png.clone();
        bad[40] ^= 1;
        assert!(decode(&bad).is_err());
        assert!(decode(b"GIF89a").is_err());
        assert!(decode(&[]).is_err());
    }
}
