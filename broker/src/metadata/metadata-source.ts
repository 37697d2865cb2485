import { changesFromEmpty, EMPTY_IMAGE, type MetadataChanges, type MetadataImage } from "./image/index.ts";

// Where the broker's images come from, and how they reach the parts of the broker that react to them (ADR 22). A
// source publishes every image, in order, to its subscribers in the order they subscribed; the next image is
// published only after every subscriber has finished with the previous one. The broker subscribes the partition
// publisher first and the handlers' view last, so a partition is answered for only once its log is open.

/** Reacts to one published image; `changes` is what changed from the previous image (for the first: from empty). */
export type MetadataPublisher = (image: MetadataImage, changes: MetadataChanges) => Promise<void> | void;

export interface MetadataSource {
  /** The newest image handed to the subscribers (EMPTY_IMAGE before the first). */
  image(): MetadataImage;
  /** Adds a publisher; it sees every image published from now on. */
  subscribe(publisher: MetadataPublisher): void;
}

/**
 * Publishes images to subscribers one at a time, in order: the part every source shares. A publisher that throws
 * fails that publication (the promise `publish` returns rejects) and the publishers after it do not see the image.
 */
export class PublishingChain {
  private readonly publishers: MetadataPublisher[] = [];
  private current: MetadataImage = EMPTY_IMAGE;
  private tail: Promise<void> = Promise.resolve();

  image(): MetadataImage {
    return this.current;
  }

  subscribe(publisher: MetadataPublisher): void {
    this.publishers.push(publisher);
  }

  /**
   * Adds a publisher that first gets the current image as if it were the first (changes from the empty image), in
   * order with the images published around it; resolves once it has handled that image. For a publisher that joins
   * after images were published. Nothing is handed over while the current image is the empty one.
   */
  subscribeFromStart(publisher: MetadataPublisher): Promise<void> {
    const run = this.tail.then(async () => {
      this.publishers.push(publisher);
      if (this.current !== EMPTY_IMAGE) await publisher(this.current, changesFromEmpty(this.current));
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Resolves once every image published so far has been handled (whether or not its publication failed). */
  settled(): Promise<void> {
    return this.tail;
  }

  publish(image: MetadataImage, changes: MetadataChanges): Promise<void> {
    const run = this.tail.then(async () => {
      this.current = image;
      for (const publisher of this.publishers) await publisher(image, changes);
    });
    this.tail = run.catch(() => undefined);
    return run;
  }
}

/** The image the request handlers answer from, and who this node is in it. */
export class MetadataView {
  private current: MetadataImage = EMPTY_IMAGE;

  constructor(readonly nodeId: number) {}

  get image(): MetadataImage {
    return this.current;
  }

  /** Subscribe this last, so handlers see an image only once the other publishers have acted on it. */
  readonly publish: MetadataPublisher = (image) => {
    this.current = image;
  };
}
