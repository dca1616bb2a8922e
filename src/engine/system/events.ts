import { EventEmitter } from 'node:events';

/** An event as the Engine API's /events streams it. */
export interface EngineEvent {
  Type: 'container' | 'image' | 'volume' | 'network' | 'daemon';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  /** Legacy fields docker still sends for containers and images. */
  status?: string;
  id?: string;
  from?: string;
}

const KEEP = 1024;

/** Publishes engine events and keeps the latest ones for `--since` replay. */
export class EventBus {
  private readonly emitter = new EventEmitter();
  private readonly recent: EngineEvent[] = [];

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  publish(type: EngineEvent['Type'], action: string, id: string, attributes: Record<string, string> = {}): void {
    const nowNs = BigInt(Date.now()) * 1_000_000n + process.hrtime.bigint() % 1_000_000n;
    const e: EngineEvent = {
      Type: type, Action: action, Actor: { ID: id, Attributes: attributes }, scope: 'local',
      time: Number(nowNs / 1_000_000_000n), timeNano: Number(nowNs),
    };
    if (type === 'container' || type === 'image') {
      e.status = action;
      e.id = id;
      if (attributes.image) e.from = attributes.image;
    }
    this.recent.push(e);
    if (this.recent.length > KEEP) this.recent.shift();
    this.emitter.emit('event', e);
  }

  /** A container's event with docker's attributes: the container's labels, its image and name, then the event's own. */
  container(action: string, c: { Id: string; Name: string; Config: { Image?: string; Labels?: Record<string, string> | null } }, extra: Record<string, string> = {}): void {
    this.publish('container', action, c.Id, { ...c.Config.Labels, image: c.Config.Image ?? '', name: c.Name.replace(/^\//, ''), ...extra });
  }

  /** Past events at or after `sinceNs`, then every new one until the returned function is called. */
  subscribe(onEvent: (e: EngineEvent) => void, sinceNs?: bigint): () => void {
    if (sinceNs !== undefined) for (const e of this.recent) if (BigInt(e.timeNano) >= sinceNs) onEvent(e);
    this.emitter.on('event', onEvent);
    return () => this.emitter.off('event', onEvent);
  }
}
