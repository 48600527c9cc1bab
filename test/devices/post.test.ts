/**
 * The POST / I/O-delay port 0x80.
 */
import { describe, expect, it } from 'vitest';
import { IoBus } from '../../src/io/bus.js';
import { PostPort } from '../../src/devices/post.js';

describe('port 0x80', () => {
  it('is the port claimed, so io_delay writes are not unclaimed accesses?', () => {
    const bus = new IoBus();
    new PostPort(bus);
    expect(bus.ownerOf(0x80)).toBe('post');
    expect(bus.ownerOf(0x81)).toBeUndefined();
  });

  it('does a read return the last value written (not 0xff), including through a word write split into bytes?', () => {
    const bus = new IoBus();
    const post = new PostPort(bus);
    expect(bus.in8(0x80)).toBe(0);
    bus.out8(0x80, 0x55);
    expect(bus.in8(0x80)).toBe(0x55);
    expect(post.code()).toBe(0x55);
    bus.out16(0x80, 0x12aa); // the low byte reaches port 0x80, the high byte the unclaimed 0x81
    expect(bus.in8(0x80)).toBe(0xaa);
  });

  it('does a restored port keep its value, and reset clear it?', () => {
    const a = new IoBus();
    const pa = new PostPort(a);
    a.out8(0x80, 0x3c);
    const b = new IoBus();
    const pb = new PostPort(b);
    pb.restore(JSON.parse(JSON.stringify(pa.save())) as object);
    expect(b.in8(0x80)).toBe(0x3c);
    pb.reset();
    expect(b.in8(0x80)).toBe(0);
  });
});
