// JSON that keeps bigint and Date, for events in Redis Streams and view rows in notices.
export function toWire(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, item) {
    const raw = this[key];
    if (typeof raw === 'bigint') return { $bigint: raw.toString() };
    if (raw instanceof Date) return { $date: raw.toISOString() };
    return item;
  });
}

export function fromWire<T>(text: string): T {
  return JSON.parse(text, (_key, item) => {
    if (item && typeof item === 'object' && !Array.isArray(item)) {
      const keys = Object.keys(item);
      if (keys.length === 1 && typeof item.$bigint === 'string') return BigInt(item.$bigint);
      if (keys.length === 1 && typeof item.$date === 'string') return new Date(item.$date);
    }
    return item;
  }) as T;
}
