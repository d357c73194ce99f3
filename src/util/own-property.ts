/**
 * Sets `object[name] = value` as an own, enumerable property even when `name` is
 * `__proto__` (a plain assignment would set the object's prototype instead). Decoded header
 * names come from stored bytes, so any name must round-trip.
 */
export function setOwnProperty(object: Record<string, string>, name: string, value: string): void {
  if (name === '__proto__') {
    Object.defineProperty(object, name, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    object[name] = value;
  }
}
