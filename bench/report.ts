export interface Results { compare?: unknown; scale?: unknown; profile?: unknown }
export function renderReport(r: Results): string { return JSON.stringify(r).slice(0, 100); }
