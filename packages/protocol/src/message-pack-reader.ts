/**
 * A small forward-only MessagePack reader for the hub message envelope (internal; not exported
 * from the package entry).
 *
 * Why not decode the whole body with @msgpack/msgpack? The envelope needs type-exact reads to give
 * the reference's error texts ("Reading 'headers[0].Key' as String failed." for an integer key,
 * which a generic decoder would have turned into the string "42"), and it lets payload values be
 * located by skipping, then decoded in one call each (arguments, item, result).
 * Format reference: https://github.com/msgpack/msgpack/blob/master/spec.md
 * @module
 */

/** Reads MessagePack values from `bytes[pos..end)`. Every method leaves `pos` unchanged on a miss. */
export class MessagePackReader {
  /** Where the next value starts. */
  pos = 0;
  private readonly view: DataView;
  private readonly text: Buffer;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.text = Buffer.isBuffer(bytes)
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** The bytes between two positions, as a view (no copy). */
  bytesBetween(start: number, end: number): Uint8Array {
    return this.bytes.subarray(start, end);
  }

  /** Whether the next value is nil; consumes it when it is. */
  tryReadNil(): boolean {
    if (this.pos < this.bytes.length && this.bytes[this.pos] === 0xc0) {
      this.pos++;
      return true;
    }
    return false;
  }

  /** An array header's element count, or undefined when the next value is not an array. */
  readArrayHeader(): number | undefined {
    return this.readContainerHeader(0x90, 0xdc);
  }

  /** A map header's entry count, or undefined when the next value is not a map. */
  readMapHeader(): number | undefined {
    return this.readContainerHeader(0x80, 0xde);
  }

  private readContainerHeader(fixBase: number, code16: number): number | undefined {
    const { bytes, pos } = this;
    if (pos >= bytes.length) return undefined;
    const code = bytes[pos];
    if (code >= fixBase && code <= fixBase + 0x0f) {
      this.pos = pos + 1;
      return code - fixBase;
    }
    if (code === code16 && pos + 3 <= bytes.length) {
      this.pos = pos + 3;
      return this.view.getUint16(pos + 1);
    }
    if (code === code16 + 1 && pos + 5 <= bytes.length) {
      this.pos = pos + 5;
      return this.view.getUint32(pos + 1);
    }
    return undefined;
  }

  /** A string, null for nil, or undefined when the next value is neither. */
  readStringOrNil(): string | null | undefined {
    if (this.tryReadNil()) return null;
    const { bytes, pos } = this;
    if (pos >= bytes.length) return undefined;
    const code = bytes[pos];
    let start: number;
    let length: number;
    if (code >= 0xa0 && code <= 0xbf) {
      start = pos + 1;
      length = code - 0xa0;
    } else if (code === 0xd9 && pos + 2 <= bytes.length) {
      start = pos + 2;
      length = bytes[pos + 1];
    } else if (code === 0xda && pos + 3 <= bytes.length) {
      start = pos + 3;
      length = this.view.getUint16(pos + 1);
    } else if (code === 0xdb && pos + 5 <= bytes.length) {
      start = pos + 5;
      length = this.view.getUint32(pos + 1);
    } else {
      return undefined;
    }
    if (start + length > bytes.length) return undefined;
    this.pos = start + length;
    return this.text.toString('utf8', start, start + length);
  }

  /**
   * An integer in any of the int/uint encodings, or undefined when the next value is not one or
   * does not fit a JavaScript number exactly (64-bit values above 2^53-1).
   */
  readInteger(): number | undefined {
    const { bytes, pos, view } = this;
    if (pos >= bytes.length) return undefined;
    const code = bytes[pos];
    if (code <= 0x7f || code >= 0xe0) {
      this.pos = pos + 1;
      return code <= 0x7f ? code : code - 0x100;
    }
    const size = INTEGER_SIZES[code];
    if (size === undefined || pos + 1 + size > bytes.length) return undefined;
    let result: number;
    switch (code) {
      case 0xcc:
        result = view.getUint8(pos + 1);
        break;
      case 0xcd:
        result = view.getUint16(pos + 1);
        break;
      case 0xce:
        result = view.getUint32(pos + 1);
        break;
      case 0xcf:
        result = Number(view.getBigUint64(pos + 1));
        break;
      case 0xd0:
        result = view.getInt8(pos + 1);
        break;
      case 0xd1:
        result = view.getInt16(pos + 1);
        break;
      case 0xd2:
        result = view.getInt32(pos + 1);
        break;
      default:
        result = Number(view.getBigInt64(pos + 1));
        break;
    }
    if (!Number.isSafeInteger(result)) return undefined;
    this.pos = pos + 1 + size;
    return result;
  }

  /** A boolean, or undefined when the next value is not one. */
  readBoolean(): boolean | undefined {
    if (this.pos >= this.bytes.length) return undefined;
    const code = this.bytes[this.pos];
    if (code !== 0xc2 && code !== 0xc3) return undefined;
    this.pos++;
    return code === 0xc3;
  }

  /**
   * Skips one whole value, nested containers included, without decoding it.
   * @returns false when the bytes end inside the value or hold the never-used code 0xC1.
   */
  skipValue(): boolean {
    const { bytes, view } = this;
    let pos = this.pos;
    // Values still to skip; a container adds its children. Every value takes at least one byte, so
    // a bogus huge count fails on the bounds check instead of looping.
    let pending = 1;
    while (pending > 0) {
      if (pos >= bytes.length) return false;
      const code = bytes[pos];
      pending--;
      let header = 1;
      let body = 0;
      if (code <= 0x7f || code >= 0xe0 || code === 0xc0 || code === 0xc2 || code === 0xc3) {
        // fixint, nil, booleans: the code is the whole value
      } else if (code <= 0x8f) pending += 2 * (code - 0x80);
      else if (code <= 0x9f) pending += code - 0x90;
      else if (code <= 0xbf) body = code - 0xa0;
      else {
        const layout = VARIABLE_LAYOUTS[code];
        if (layout === undefined) return false;
        header = 1 + layout.lengthSize + layout.extraHeader;
        if (pos + header > bytes.length) return false;
        const length =
          layout.lengthSize === 0
            ? layout.fixed
            : layout.lengthSize === 1
              ? bytes[pos + 1]
              : layout.lengthSize === 2
                ? view.getUint16(pos + 1)
                : view.getUint32(pos + 1);
        if (layout.kind === 'array') pending += length;
        else if (layout.kind === 'map') pending += 2 * length;
        else body = length;
      }
      if (pending > bytes.length) return false;
      pos += header + body;
      if (pos > bytes.length) return false;
    }
    this.pos = pos;
    return true;
  }
}

/** Payload sizes of the int/uint codes, by code. */
const INTEGER_SIZES: Readonly<Record<number, number>> = {
  204: 1,
  205: 2,
  206: 4,
  207: 8,
  208: 1,
  209: 2,
  210: 4,
  211: 8,
};

/** How a non-fix code is laid out: its length field size, any extra header byte, and what follows. */
interface Layout {
  /** Bytes of the big-endian length (or count) field after the code; 0 when the size is `fixed`. */
  lengthSize: 0 | 1 | 2 | 4;
  /** The body size when `lengthSize` is 0. */
  fixed: number;
  /** Extra header bytes after the length field (the ext type byte). */
  extraHeader: number;
  /** `bytes`: the length counts body bytes; `array`/`map`: it counts elements or entries. */
  kind: 'bytes' | 'array' | 'map';
}

function layout(lengthSize: 0 | 1 | 2 | 4, fixed: number, extraHeader: number, kind: Layout['kind']): Layout {
  return { lengthSize, fixed, extraHeader, kind };
}

const VARIABLE_LAYOUTS: Readonly<Record<number, Layout>> = {
  196: layout(1, 0, 0, 'bytes'), // bin 8
  197: layout(2, 0, 0, 'bytes'), // bin 16
  198: layout(4, 0, 0, 'bytes'), // bin 32
  199: layout(1, 0, 1, 'bytes'), // ext 8
  200: layout(2, 0, 1, 'bytes'), // ext 16
  201: layout(4, 0, 1, 'bytes'), // ext 32
  202: layout(0, 4, 0, 'bytes'), // float 32
  203: layout(0, 8, 0, 'bytes'), // float 64
  204: layout(0, 1, 0, 'bytes'), // uint 8
  205: layout(0, 2, 0, 'bytes'), // uint 16
  206: layout(0, 4, 0, 'bytes'), // uint 32
  207: layout(0, 8, 0, 'bytes'), // uint 64
  208: layout(0, 1, 0, 'bytes'), // int 8
  209: layout(0, 2, 0, 'bytes'), // int 16
  210: layout(0, 4, 0, 'bytes'), // int 32
  211: layout(0, 8, 0, 'bytes'), // int 64
  212: layout(0, 2, 0, 'bytes'), // fixext 1: type byte + 1
  213: layout(0, 3, 0, 'bytes'), // fixext 2
  214: layout(0, 5, 0, 'bytes'), // fixext 4
  215: layout(0, 9, 0, 'bytes'), // fixext 8
  216: layout(0, 17, 0, 'bytes'), // fixext 16
  217: layout(1, 0, 0, 'bytes'), // str 8
  218: layout(2, 0, 0, 'bytes'), // str 16
  219: layout(4, 0, 0, 'bytes'), // str 32
  220: layout(2, 0, 0, 'array'), // array 16
  221: layout(4, 0, 0, 'array'), // array 32
  222: layout(2, 0, 0, 'map'), // map 16
  223: layout(4, 0, 0, 'map'), // map 32
};
