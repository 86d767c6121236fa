import cliProgress from "cli-progress";

/** A progress bar on stderr when it is a terminal and output is for humans; silent otherwise. */
export class Progress {
  readonly #bar: cliProgress.SingleBar | undefined;
  #started = false;

  constructor(enabled: boolean, label: string) {
    this.#bar =
      enabled && process.stderr.isTTY
        ? new cliProgress.SingleBar(
            {
              format: `${label} [{bar}] {percentage}% | {value}/{total} chunks | {detail}`,
              stream: process.stderr,
            },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
  }

  update(done: number, total: number, detail = ""): void {
    if (this.#bar === undefined) return;
    if (!this.#started) {
      this.#bar.start(total, done, { detail });
      this.#started = true;
    }
    this.#bar.setTotal(total);
    this.#bar.update(done, { detail });
  }

  stop(): void {
    if (this.#started) this.#bar?.stop();
    this.#started = false;
  }
}
