export async function runProfile(_o: { size: number; seed: number; work: string; log: (l: string) => void }) {
  return { suite: "profile" as const };
}
