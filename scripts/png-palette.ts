// Makes a screenshot PNG small enough to commit: Chromium writes 24-bit RGB, while a dashboard of flat
// panels, text and lines has a few hundred colours that matter (the rest are the anti-aliased edges
// of text and lines). The 256 most frequent colours become a palette, every other colour takes the
// nearest of them, and the image is written as an 8-bit palette PNG: about half the bytes.
import { deflateSync, inflateSync } from 'node:zlib';

const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function crc32(bytes: Buffer): number {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const frame = Buffer.alloc(8 + data.length + 4);
  frame.writeUInt32BE(data.length, 0);
  typed.copy(frame, 4);
  frame.writeUInt32BE(crc32(typed), 8 + data.length);
  return frame;
}

/** The pixels of a non-interlaced 8-bit RGB or RGBA PNG, as RGB (the alpha of an opaque screenshot dropped). */
function decode(png: Buffer): { width: number; height: number; rgb: Buffer } {
  if (!png.subarray(0, 8).equals(signature)) throw new Error('not a PNG');
  let header: Buffer | undefined;
  const data: Buffer[] = [];
  for (let offset = 8; offset < png.length;) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    if (type === 'IHDR') header = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IDAT') data.push(png.subarray(offset + 8, offset + 8 + length));
    offset += 12 + length;
  }
  if (!header) throw new Error('a PNG without IHDR');
  const [width, height, depth, colorType, interlace] = [header.readUInt32BE(0), header.readUInt32BE(4), header[8], header[9], header[12]];
  if (depth !== 8 || (colorType !== 2 && colorType !== 6) || interlace !== 0)
    throw new Error(`an 8-bit RGB(A) PNG without interlacing is expected (depth ${depth}, colour type ${colorType})`);
  const channels = colorType === 6 ? 4 : 3;
  const stride = width * channels;
  const raw = inflateSync(Buffer.concat(data));
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const left = x >= channels ? pixels[row + x - channels]! : 0;
      const up = y > 0 ? pixels[row - stride + x]! : 0;
      const upLeft = x >= channels && y > 0 ? pixels[row - stride + x - channels]! : 0;
      let predicted = 0;
      if (filter === 1) predicted = left;
      else if (filter === 2) predicted = up;
      else if (filter === 3) predicted = (left + up) >> 1;
      else if (filter === 4) {
        const [toLeft, toUp, toUpLeft] = [Math.abs(up - upLeft), Math.abs(left - upLeft), Math.abs(left + up - 2 * upLeft)];
        predicted = toLeft <= toUp && toLeft <= toUpLeft ? left : toUp <= toUpLeft ? up : upLeft;
      }
      pixels[row + x] = (raw[y * (stride + 1) + 1 + x]! + predicted) & 0xff;
    }
  }
  if (channels === 3) return { width, height, rgb: pixels };
  const rgb = Buffer.alloc(width * height * 3);
  for (let pixel = 0; pixel < width * height; pixel++) pixels.copy(rgb, pixel * 3, pixel * 4, pixel * 4 + 3);
  return { width, height, rgb };
}

/** The PNG re-encoded with a palette of its 256 most frequent colours; the original if that is not smaller. */
export function paletteOf(png: Buffer): Buffer {
  const { width, height, rgb } = decode(png);
  const colorAt = (pixel: number) => (rgb[pixel * 3]! << 16) | (rgb[pixel * 3 + 1]! << 8) | rgb[pixel * 3 + 2]!;
  const counts = new Map<number, number>();
  for (let pixel = 0; pixel < width * height; pixel++) counts.set(colorAt(pixel), (counts.get(colorAt(pixel)) ?? 0) + 1);
  const palette = [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 256)
    .map(([color]) => color);
  const indexOf = new Map(palette.map((color, index) => [color, index]));
  const nearest = (color: number): number => {
    let best = 0;
    let bestDistance = Infinity;
    palette.forEach((candidate, index) => {
      const distance =
        ((candidate >> 16) - (color >> 16)) ** 2 + (((candidate >> 8) & 0xff) - ((color >> 8) & 0xff)) ** 2 + ((candidate & 0xff) - (color & 0xff)) ** 2;
      if (distance < bestDistance) [best, bestDistance] = [index, distance];
    });
    indexOf.set(color, best);
    return best;
  };
  // Each row starts with filter type 0 (none): the usual best for palette images.
  const indexed = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const color = colorAt(y * width + x);
      indexed[y * (width + 1) + 1 + x] = indexOf.get(color) ?? nearest(color);
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 3, 0, 0, 0], 8);
  const plte = Buffer.alloc(palette.length * 3);
  palette.forEach((color, index) => plte.set([color >> 16, (color >> 8) & 0xff, color & 0xff], index * 3));
  const encoded = Buffer.concat([
    signature,
    chunk('IHDR', header),
    chunk('PLTE', plte),
    chunk('IDAT', deflateSync(indexed, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
  return encoded.length < png.length ? encoded : png;
}
