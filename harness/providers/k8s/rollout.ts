// Translate what the API server says about pods during a Deployment rollout into RolloutEvents:
//   a pod that was not there before becomes Ready           → onPodReady
//   an old pod gets metadata.deletionTimestamp (SIGTERM now) → onPodStopping
//   an old pod's object is gone (DELETED, or absent on resync) → onPodDeleted
// Pure (no I/O): the cluster feeds it watch events and, after a watch drop, full listings.
import type { V1Pod } from '@kubernetes/client-node';

export interface PodView {
  name: string;
  uid: string;
  node: string;
  ip: string;
  ready: boolean;
  deleting: boolean;
}

export function podView(p: V1Pod): PodView {
  return {
    name: p.metadata?.name ?? '',
    uid: p.metadata?.uid ?? '',
    node: p.spec?.nodeName ?? '',
    ip: p.status?.podIP ?? '',
    ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    deleting: !!p.metadata?.deletionTimestamp,
  };
}

export interface TrackerSink {
  ready(p: PodView): void;
  stopping(p: PodView): void;
  deleted(p: PodView): void;
}

export class RolloutTracker {
  private readonly old = new Map<string, PodView>();
  private readonly stopped = new Set<string>();
  private readonly gone = new Set<string>();
  private readonly readyNew = new Map<string, PodView>();

  /** @param oldPods the pods before the rollout; @param want replicas the Deployment should end with. */
  constructor(
    oldPods: readonly PodView[],
    private readonly want: number,
    private readonly sink: TrackerSink,
  ) {
    for (const p of oldPods) this.old.set(p.uid, p);
  }

  event(type: 'ADDED' | 'MODIFIED' | 'DELETED' | string, p: PodView): void {
    const old = this.old.get(p.uid);
    if (old) {
      if ((p.deleting || type === 'DELETED') && !this.stopped.has(p.uid)) {
        this.stopped.add(p.uid);
        this.sink.stopping({ ...old, deleting: true });
      }
      if (type === 'DELETED' && !this.gone.has(p.uid)) {
        this.gone.add(p.uid);
        this.sink.deleted(old);
      }
      return;
    }
    if (type === 'DELETED') {
      this.readyNew.delete(p.uid); // a new pod that died before the end: not counted
      return;
    }
    if (p.ready && !p.deleting && p.ip && !this.readyNew.has(p.uid)) {
      this.readyNew.set(p.uid, p);
      this.sink.ready(p);
    }
  }

  /** A full listing (after a watch ended): old pods missing from it are deleted; the others are re-evaluated. */
  resync(pods: readonly PodView[]): void {
    const present = new Set(pods.map((p) => p.uid));
    for (const p of pods) this.event('MODIFIED', p);
    for (const [uid, p] of this.old) if (!present.has(uid)) this.event('DELETED', p);
  }

  get done(): boolean {
    return this.gone.size === this.old.size && this.readyNew.size >= this.want;
  }

  get newPods(): PodView[] {
    return [...this.readyNew.values()];
  }

  get progress(): string {
    return `${this.readyNew.size}/${this.want} new ready, ${this.stopped.size}/${this.old.size} old stopping, ${this.gone.size}/${this.old.size} old deleted`;
  }
}
