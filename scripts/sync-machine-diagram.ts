/**
 * Prints the sync state machine as a Mermaid `stateDiagram-v2`, generated from the machine itself.
 * With `--write`, also replaces the diagram in docs/sync-machine.md (a unit test checks that the
 * document matches the machine, so run this after changing the machine).
 *
 *   npx tsx scripts/sync-machine-diagram.ts [--write]
 */

import { readFileSync, writeFileSync } from "node:fs";
import { syncMachineMermaid } from "../src/domain/sync-machine.ts";

const diagram = syncMachineMermaid();
process.stdout.write(diagram);

if (process.argv.includes("--write")) {
  const doc = new URL("../docs/sync-machine.md", import.meta.url);
  const block = /```mermaid\n[\s\S]*?```/;
  const text = readFileSync(doc, "utf8");
  if (!block.test(text)) throw new Error(`${doc.pathname}: no \`\`\`mermaid block to replace`);
  writeFileSync(
    doc,
    text.replace(block, () => `\`\`\`mermaid\n${diagram}\`\`\``),
  );
}
