// Coalesces single-item calls made at about the same time into one batched call: concurrent reconciles of many
// KafkaTopics become one CreateTopics, one Metadata, one DescribeConfigs... A batch goes out when it is full or when
// the first item has waited `lingerMs`; a failure of the whole call fails every item of that batch.

export interface BatcherOptions<In, Out> {
  /** Runs one batch; answers one result per item, in order. */
  run: (items: In[]) => Promise<Out[]>;
  /** @default 100 */
  maxBatch?: number;
  /** @default 5 */
  lingerMs?: number;
}

interface Waiting<In, Out> {
  item: In;
  resolve: (out: Out) => void;
  reject: (err: unknown) => void;
}

export class Batcher<In, Out> {
  readonly #run: (items: In[]) => Promise<Out[]>;
  readonly #maxBatch: number;
  readonly #lingerMs: number;
  #waiting: Waiting<In, Out>[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(options: BatcherOptions<In, Out>) {
    this.#run = options.run;
    this.#maxBatch = options.maxBatch ?? 100;
    this.#lingerMs = options.lingerMs ?? 5;
  }

  add(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.#waiting.push({ item, resolve, reject });
      if (this.#waiting.length >= this.#maxBatch) this.#flush();
      else this.#timer ??= setTimeout(() => this.#flush(), this.#lingerMs);
    });
  }

  #flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#waiting.splice(0, this.#maxBatch);
    if (this.#waiting.length > 0) this.#timer = setTimeout(() => this.#flush(), this.#lingerMs);
    if (batch.length === 0) return;
    this.#run(batch.map((w) => w.item)).then(
      (results) => {
        batch.forEach((w, i) => {
          if (i < results.length) w.resolve(results[i] as Out);
          else w.reject(new Error(`a batch of ${batch.length} answered only ${results.length} results`));
        });
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
  }
}
