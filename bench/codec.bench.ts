/**
 * Wire codec throughput and allocation: encode + decode round trips of DATA (1360-byte payload,
 * the default maximum), ACK and NACK, through the public encoders and `decodePacket`, with one
 * reused `PacketView` and one reused output buffer, as the connection uses them.
 *
 * Grid names: `RoundTrip_<TYPE>_<detail>`. DATA comes in three forms: `copy` (payload copied
 * from a whole array: native memcpy), `slice` (payload at an offset inside a frame buffer: the
 * allocation-free word copy) and `inplace` (payload already at offset 24, header written in
 * front: encodeDataHeaderInto). `Naive_DATA_1360` is the werift-style reference the style guide
 * warns about (a fresh Buffer per packet, writeUInt32BE, DataView-free decode into a new object),
 * measured in the same run.
 *
 * measureHeap runs 1,000,000 round trips per type and reports heap growth per million and the GC
 * count; allocation per round trip comes from `allocPerOp` below (the naive path is measured too,
 * to show the probe catches allocation). Checks: allocated bytes per round trip < 1 for each path
 * (fails as soon as a path allocates per packet), and the allocation-free DATA path is not slower
 * than the naive one.
 */
import {
  DataFlags,
  DecodeStatus,
  PacketType,
  PacketView,
  decodePacket,
  encodeAckInto,
  encodeDataHeaderInto,
  encodeDataInto,
  encodeRangesInto,
} from '../src/core/wire/index.js';
import { measureHeap, runTasks, type BenchContext, type Check, type Figure, type HeapReport, type SuiteResult } from './harness.js';

const PAYLOAD = 1360;
const HEAP_ITERATIONS = 1_000_000;

/**
 * Allocation per op, measured so that it can fail. The harness's probe (20k ops, one heapUsed
 * difference) reads ~0 for a path that allocates hundreds of bytes per op whenever a scavenge
 * lands inside it (measured here: the naive reference read 1.7 bytes/op), and reads ~90 bytes/op
 * for an empty function while V8 is still compiling the probe loop. Here: 3 discarded warm-up
 * samples (the probe loop gets optimised), then 9 samples of 2,000 ops, each after a full GC and
 * small enough to stay inside the young generation; the median drops outliers, and the
 * empty-function figure (memoryUsage's own garbage, ~0.1 bytes/op) is subtracted. Checked by
 * hand: a path storing one HeapNumber per op reads 16.0, a one-element array 56.
 */
function allocPerOp(fn: (i: number) => void, emptyBaseline: number): number {
  const g = (globalThis as { gc?: () => void }).gc;
  const ops = 2_000;
  const samples: number[] = [];
  for (let k = 0; k < 12; k++) {
    if (g) g();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < ops; i++) fn(i);
    if (k >= 3) samples.push((process.memoryUsage().heapUsed - before) / ops);
  }
  samples.sort((a, b) => a - b);
  return Math.max(0, samples[4]! - emptyBaseline);
}

export async function run(ctx: BenchContext): Promise<SuiteResult> {
  const view = new PacketView();
  const out = new Uint8Array(1400);
  const payload = Uint8Array.from({ length: PAYLOAD }, (_, i) => (i * 13) & 0xff);
  const frame = Uint8Array.from({ length: PAYLOAD * 8 }, (_, i) => (i * 7) & 0xff);
  const starts = Uint32Array.from({ length: 16 }, (_, i) => i * 10);
  const lengths = Uint16Array.from({ length: 16 }, (_, i) => 1 + (i % 3));
  // Kept a small integer (Smi) so that updating it never allocates a HeapNumber.
  let sink = 0;
  let pn = 0;

  const dataCopy = (i: number): void => {
    const n = encodeDataInto(out, 0, 0x1234, (pn = (pn + 1) >>> 0), DataFlags.FIRST, i >>> 0, i >>> 0, PAYLOAD * 4, payload, 0, PAYLOAD);
    if (decodePacket(view, out, 0, n) !== DecodeStatus.OK) throw new Error('decode failed');
    sink = (sink + view.payloadLength) & 0xffff;
  };
  const dataSlice = (i: number): void => {
    const n = encodeDataInto(out, 0, 0x1234, (pn = (pn + 1) >>> 0), 0, i >>> 0, i >>> 0, PAYLOAD * 8, frame, (i & 7) * PAYLOAD, PAYLOAD);
    if (decodePacket(view, out, 0, n) !== DecodeStatus.OK) throw new Error('decode failed');
    sink = (sink + view.payloadLength) & 0xffff;
  };
  const dataInplace = (i: number): void => {
    const n = encodeDataHeaderInto(out, 0, 0x1234, (pn = (pn + 1) >>> 0), DataFlags.LAST, i >>> 0, i >>> 0, PAYLOAD, PAYLOAD);
    if (decodePacket(view, out, 0, n) !== DecodeStatus.OK) throw new Error('decode failed');
    sink = (sink + view.payloadLength) & 0xffff;
  };
  const ack = (i: number): void => {
    const n = encodeAckInto(out, 0, 0x1234, (pn = (pn + 1) >>> 0), i >>> 0, i >>> 0, 250, 9000, 1024);
    if (decodePacket(view, out, 0, n) !== DecodeStatus.OK) throw new Error('decode failed');
    sink = (sink + view.ackSeq) & 0xffff;
  };
  const nack = (i: number): void => {
    starts[0] = i >>> 0;
    const n = encodeRangesInto(out, 0, PacketType.NACK, 0x1234, (pn = (pn + 1) >>> 0), starts, lengths, 0, 16);
    if (decodePacket(view, out, 0, n) !== DecodeStatus.OK) throw new Error('decode failed');
    sink = (sink + view.rangeCount) & 0xffff;
  };
  // The reference: what the style guide calls werift's weak spot (a Buffer per serialized
  // packet, an object per parsed packet, a payload copy on parse).
  const naive = (i: number): void => {
    const b = Buffer.alloc(24 + PAYLOAD + 16);
    b.writeUInt8(1, 0);
    b.writeUInt8(4, 1);
    b.writeUInt8(DataFlags.FIRST, 2);
    b.writeUInt32BE(0x1234, 4);
    b.writeUInt32BE((pn = (pn + 1) >>> 0), 8);
    b.writeUInt32BE(i >>> 0, 12);
    b.writeUInt32BE(i >>> 0, 16);
    b.writeUInt32BE(PAYLOAD * 4, 20);
    b.set(payload, 24);
    const parsed = {
      version: b.readUInt8(0),
      type: b.readUInt8(1),
      flags: b.readUInt8(2),
      connId: b.readUInt32BE(4),
      pn: b.readUInt32BE(8),
      seq: b.readUInt32BE(12),
      timestamp: b.readUInt32BE(16),
      frameLength: b.readUInt32BE(20),
      payload: Buffer.from(b.subarray(24, b.length - 16)),
    };
    sink = (sink + parsed.payload.length) & 0xffff;
  };

  let i = 0;
  const hz = await runTasks(ctx, {
    RoundTrip_DATA_1360_copy: () => dataCopy(i++),
    RoundTrip_DATA_1360_slice: () => dataSlice(i++),
    RoundTrip_DATA_1360_inplace: () => dataInplace(i++),
    RoundTrip_ACK: () => ack(i++),
    RoundTrip_NACK_16ranges: () => nack(i++),
    Naive_DATA_1360: () => naive(i++),
  });

  // Heap growth and GCs over 1M round trips (harness). Its GC count includes its own forced GCs
  // delivered late to the observer (an empty function reads 2-4 here): reported as a baseline.
  const heapNoop = await measureHeap(() => {}, HEAP_ITERATIONS);
  const heapData = await measureHeap(dataCopy, HEAP_ITERATIONS);
  const heapSlice = await measureHeap(dataSlice, HEAP_ITERATIONS);
  const heapAck = await measureHeap(ack, HEAP_ITERATIONS);
  const heapNack = await measureHeap(nack, HEAP_ITERATIONS);
  // Allocation per op (own probe, see allocPerOp); the naive reference shows the check can fail.
  const noopFn = (_i: number): void => {};
  for (let i = 0; i < 100_000; i++) naive(i);
  const empty = allocPerOp(noopFn, 0);
  const alloc = {
    DATA_1360_copy: allocPerOp(dataCopy, empty),
    DATA_1360_slice: allocPerOp(dataSlice, empty),
    ACK: allocPerOp(ack, empty),
    NACK_16ranges: allocPerOp(nack, empty),
    Naive_DATA_1360: allocPerOp(naive, empty),
  };
  if (sink === -1) console.log(sink);

  const figures: Figure[] = [];
  for (const [name, v] of Object.entries(hz)) figures.push({ name, value: v, unit: 'ops/s' });
  const dataHz = hz.RoundTrip_DATA_1360_copy ?? 0;
  figures.push({ name: 'RoundTrip_DATA_1360_copy_MBps', value: (dataHz * (PAYLOAD + 40)) / 1e6, unit: 'MB/s', note: 'datagram bytes encoded and decoded' });
  const naiveHz = hz.Naive_DATA_1360 ?? 0;
  const ratio = naiveHz > 0 ? dataHz / naiveHz : 0;
  figures.push({ name: 'DATA_copy_over_naive', value: ratio, unit: 'ratio' });
  const heaps: Array<[string, HeapReport]> = [
    ['DATA_1360_copy', heapData],
    ['DATA_1360_slice', heapSlice],
    ['ACK', heapAck],
    ['NACK_16ranges', heapNack],
  ];
  for (const [name, h] of heaps) {
    figures.push({ name: `Heap_${name}_growth`, value: (h.heapGrowthBytes * 1e6) / h.iterations, unit: 'bytes/1M', note: `${h.gcCount} GCs during ${h.iterations} round trips (empty-function baseline: ${heapNoop.gcCount})` });
  }
  figures.push({ name: 'Alloc_empty_function', value: empty, unit: 'bytes/op', note: 'probe baseline, subtracted below' });
  for (const [name, v] of Object.entries(alloc)) {
    figures.push({ name: `Alloc_${name}`, value: v, unit: 'bytes/op', note: name.startsWith('Naive') ? 'reference: shows the check can fail' : 'median of 9 x 2k ops' });
  }

  const checks: Check[] = heaps.map(([name, h]) => ({
    name: `${name}_allocates_nothing`,
    value: alloc[name as keyof typeof alloc],
    max: 1,
    detail: `allocated bytes per encode+decode round trip (median of 9 x 2k ops, empty-function baseline subtracted); ${h.gcCount} GCs in ${h.iterations}`,
  }));
  checks.push({
    name: 'DATA_not_slower_than_naive',
    value: ratio,
    min: 1,
    detail: `RoundTrip_DATA_1360_copy / Naive_DATA_1360 ops/s in this run (${dataHz.toFixed(0)} vs ${naiveHz.toFixed(0)})`,
  });
  return { suite: 'codec', figures, checks };
}
