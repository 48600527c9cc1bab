/**
 * Singly linked lists of integers in typed arrays, all sharing one pool:
 * the shadow mode's reverse maps (guest frame -> shadow entries mapping it)
 * and parent lists (shadow page -> entries pointing at it). Nodes are
 * recycled through a free list; the pool doubles when full.
 */
export class LinkPool {
  value: Int32Array;
  next: Int32Array;
  private free = -1;
  private top = 0;
  /** nodes in use */
  live = 0;

  constructor(capacity = 1024) {
    this.value = new Int32Array(capacity);
    this.next = new Int32Array(capacity);
  }

  /** Pushes `value` in front of the list starting at `head`; returns the new head. */
  push(head: number, value: number): number {
    let n: number;
    if (this.free >= 0) {
      n = this.free;
      this.free = this.next[n]!;
    } else {
      if (this.top === this.value.length) this.grow();
      n = this.top++;
    }
    this.value[n] = value;
    this.next[n] = head;
    this.live++;
    return n;
  }

  /** Removes the first node holding `value` from the list at `head`; returns the new head. */
  remove(head: number, value: number): number {
    let prev = -1;
    for (let n = head; n >= 0; n = this.next[n]!) {
      if (this.value[n] === value) {
        const after = this.next[n]!;
        this.next[n] = this.free;
        this.free = n;
        this.live--;
        if (prev < 0) return after;
        this.next[prev] = after;
        return head;
      }
      prev = n;
    }
    return head;
  }

  /** Frees a whole list. */
  clear(head: number): void {
    for (let n = head; n >= 0;) {
      const after = this.next[n]!;
      this.next[n] = this.free;
      this.free = n;
      this.live--;
      n = after;
    }
  }

  /** The values of a list, in order (a copy, so the list may change while the caller iterates). */
  values(head: number): number[] {
    const out: number[] = [];
    for (let n = head; n >= 0; n = this.next[n]!) out.push(this.value[n]!);
    return out;
  }

  private grow(): void {
    const v = new Int32Array(this.value.length * 2);
    v.set(this.value);
    const x = new Int32Array(this.next.length * 2);
    x.set(this.next);
    this.value = v;
    this.next = x;
  }
}
