// JSON that keeps bigint and Date, for events in Redis Streams and view rows in notices.
export function toWire(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, item: unknown) {
    const raw = this[key];
    if (typeof raw === 'bigint') return { $bigint: raw.toString() };
    if (raw instanceof Date) return { $date: raw.toISOString() };
    return item;
  });
}

export function fromWire<T>(text: string): T {
  return JSON.parse(text, (_key, item: unknown) => {
    if (item && typeof item === 'object' && !Array.isArray(item)) {
      const tagged = item as { $bigint?: unknown; $date?: unknown };
      const keys = Object.keys(item);
      if (keys.length === 1 && typeof tagged.$bigint === 'string') return BigInt(tagged.$bigint);
      if (keys.length === 1 && typeof tagged.$date === 'string') return new Date(tagged.$date);
    }
    return item;
  }) as T;
}
