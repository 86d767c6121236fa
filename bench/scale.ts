export async function runScale(_o: { runs: number; quick: boolean; work: string; log: (l: string) => void }) {
  return { suite: "scale" as const };
}
