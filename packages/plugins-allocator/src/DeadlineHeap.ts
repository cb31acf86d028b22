/**
 * A binary min-heap of items by deadline (then arrival), in which every item knows its
 * place, so that any one of them leaves in O(log n): the waiting line's one timer structure.
 * Mutable and allocation-free per operation (a persistent tree cost more per waiter than
 * the rest of the waiting line together).
 */

export interface Timed {
  readonly deadline: number
  /** Breaks ties between equal deadlines: the earlier arrival first. */
  readonly seq: number
}

const before = (a: Timed, b: Timed) => a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq)

export class DeadlineHeap<T extends Timed> {
  private readonly items: Array<T> = []
  private readonly places = new Map<T, number>()

  get size(): number {
    return this.items.length
  }

  /** The item with the earliest deadline. */
  first(): T | undefined {
    return this.items[0]
  }

  add(item: T): void {
    this.items.push(item)
    this.places.set(item, this.items.length - 1)
    this.up(this.items.length - 1)
  }

  /** Takes `item` out; false if it was not in. */
  remove(item: T): boolean {
    const place = this.places.get(item)
    if (place === undefined) return false
    this.places.delete(item)
    const last = this.items.pop()!
    if (place < this.items.length) {
      this.items[place] = last
      this.places.set(last, place)
      this.down(place)
      this.up(place)
    }
    return true
  }

  private up(place: number): void {
    const items = this.items
    while (place > 0) {
      const parent = (place - 1) >> 1
      if (!before(items[place]!, items[parent]!)) return
      this.swap(place, parent)
      place = parent
    }
  }

  private down(place: number): void {
    const items = this.items
    for (;;) {
      const left = 2 * place + 1
      const right = left + 1
      let first = place
      if (left < items.length && before(items[left]!, items[first]!)) first = left
      if (right < items.length && before(items[right]!, items[first]!)) first = right
      if (first === place) return
      this.swap(place, first)
      place = first
    }
  }

  private swap(a: number, b: number): void {
    const items = this.items
    const item = items[a]!
    items[a] = items[b]!
    items[b] = item
    this.places.set(items[a]!, a)
    this.places.set(item, b)
  }
}
