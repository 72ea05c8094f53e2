/**
 * Known-answer vectors (spec/vectors/wire.json) in both directions: decode(hex) gives the
 * fields, encoding the fields gives the hex; negative vectors decode to the stated status.
 */
import { describe, expect, it } from 'vitest';
import {
  DecodeStatus,
  PacketView,
  decodePacket,
  decodeStatusName,
  encodeFromView,
  peekHeader,
} from '../../../src/core/wire/index.js';
import { encodeFields, fromHex, loadVectors, toHex, typeCode, viewFields, TYPE_NAMES } from './fields.js';

const vectors = loadVectors();

describe('wire vectors', () => {
  it('cover every packet type and a range of statuses', () => {
    const types = new Set(vectors.valid.map((v) => v.fields.type));
    expect([...types].sort()).toEqual([...TYPE_NAMES].sort());
    const statuses = new Set(vectors.invalid.map((v) => v.status));
    // every failure status has at least one negative vector
    for (let s = 1; s < 12; s++) expect(statuses, decodeStatusName(s)).toContain(decodeStatusName(s));
  });

  describe.each(vectors.valid.map((v) => [v.name, v] as const))('valid %s', (_name, vec) => {
    const { reencodeHex, ...fields } = vec.fields;
    it('decodes to the fields', () => {
      const bytes = fromHex(vec.hex);
      const view = new PacketView();
      expect(decodePacket(view, bytes, 0, bytes.length)).toBe(DecodeStatus.OK);
      expect(view.type).toBe(typeCode(fields.type));
      expect(view.tagOffset).toBe(bytes.length - 16);
      expect(viewFields(view)).toEqual(fields);
    });
    it('encodes from the fields to the bytes', () => {
      const out = new Uint8Array(2048).fill(0x5a);
      const n = encodeFields(out, 3, fields);
      expect(toHex(out, 3, n)).toBe(reencodeHex ?? vec.hex);
      expect(out[2]).toBe(0x5a);
      expect(out[3 + n]).toBe(0x5a);
    });
    it('re-encodes from the decoded view', () => {
      const bytes = fromHex(vec.hex);
      const view = new PacketView();
      expect(decodePacket(view, bytes, 0, bytes.length)).toBe(DecodeStatus.OK);
      const out = new Uint8Array(2048);
      const n = encodeFromView(out, 0, view);
      expect(toHex(out, 0, n)).toBe(reencodeHex ?? vec.hex);
    });
    it('peekHeader agrees with the header fields', () => {
      const bytes = fromHex(vec.hex);
      const view = new PacketView();
      expect(peekHeader(bytes, 0, bytes.length, view)).toBe(DecodeStatus.OK);
      expect(view.connId).toBe(fields.connId);
      expect(view.packetNumber).toBe(fields.packetNumber);
      expect(view.type).toBe(typeCode(fields.type));
    });
  });

  describe.each(vectors.invalid.map((v) => [v.name, v] as const))('invalid %s', (_name, vec) => {
    it(`decodes to ${vec.status}`, () => {
      const bytes = fromHex(vec.hex);
      const view = new PacketView();
      expect(decodeStatusName(decodePacket(view, bytes, 0, bytes.length))).toBe(vec.status);
    });
  });
});
