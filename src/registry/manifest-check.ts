import { type Digest, isDigest } from '../oci/digest';
import { type Descriptor, MediaType } from '../oci/image';
import { regErr } from './errors';

/** Larger manifests are refused (distribution's limit, and containers/image's). */
export const MAX_MANIFEST = 4 << 20;

const IMAGE_TYPES = new Set<string>([MediaType.OciManifest, MediaType.DockerManifest]);
const INDEX_TYPES = new Set<string>([MediaType.OciIndex, MediaType.DockerManifestList]);
/** Layers that live elsewhere (Windows base layers): their blobs need not be here. */
const FOREIGN = /(foreign|nondistributable)/;

/** What a pushed manifest is and what it stands on. */
export interface CheckedManifest {
  mediaType: string;
  /** Blobs (config, layers) that must be in the repository. */
  blobs: Digest[];
  /** Manifests (an index's children) that must be in the repository. */
  manifests: Digest[];
  /** The manifest it refers to (the referrers API). */
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

const invalid = (why: string) => regErr('MANIFEST_INVALID', `manifest invalid: ${why}`);

function descriptor(x: unknown, where: string): Descriptor {
  const d = x as Descriptor;
  if (typeof d !== 'object' || d === null) throw invalid(`${where} is not a descriptor`);
  if (typeof d.mediaType !== 'string' || !d.mediaType) throw invalid(`${where} has no mediaType`);
  if (typeof d.digest !== 'string' || !isDigest(d.digest)) throw invalid(`${where} has an invalid digest`);
  if (!Number.isSafeInteger(d.size) || d.size < 0) throw invalid(`${where} has an invalid size`);
  return d;
}

/**
 * Checks a manifest body as pushed with its Content-Type: well-formed JSON of
 * a known kind (OCI or docker schema2, image or index), its descriptors whole.
 * What it references is returned for the caller to find in the repository.
 */
export function checkManifest(body: Buffer, contentType: string | undefined): CheckedManifest {
  if (body.length > MAX_MANIFEST) throw regErr('MANIFEST_INVALID', `manifest invalid: larger than ${MAX_MANIFEST} bytes`, undefined, 413);
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalid('not JSON');
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw invalid('not a JSON object');
  if (m.schemaVersion !== 2) throw invalid(m.schemaVersion === 1 ? 'schema 1 manifests are not supported' : 'schemaVersion must be 2');
  const declared = typeof m.mediaType === 'string' ? m.mediaType : undefined;
  const header = contentType?.split(';')[0].trim();
  const fromHeader = header && (IMAGE_TYPES.has(header) || INDEX_TYPES.has(header)) ? header : undefined;
  if (declared && fromHeader && declared !== fromHeader) throw invalid(`mediaType ${declared} differs from Content-Type ${fromHeader}`);
  const mediaType = declared ?? fromHeader ?? (Array.isArray(m.manifests) ? MediaType.OciIndex : MediaType.OciManifest);
  const subject = m.subject === undefined ? undefined : descriptor(m.subject, 'subject');
  const annotations = m.annotations as Record<string, string> | undefined;
  if (annotations !== undefined && (typeof annotations !== 'object' || annotations === null)) throw invalid('annotations is not an object');
  if (m.artifactType !== undefined && typeof m.artifactType !== 'string') throw invalid('artifactType is not a string');
  if (IMAGE_TYPES.has(mediaType)) {
    const config = descriptor(m.config, 'config');
    if (!Array.isArray(m.layers)) throw invalid('layers is not a list');
    const layers = m.layers.map((l, i) => descriptor(l, `layers[${i}]`));
    const present = layers.filter((l) => !(FOREIGN.test(l.mediaType) && Array.isArray((l as { urls?: unknown }).urls)));
    return {
      mediaType,
      blobs: [config.digest, ...present.map((l) => l.digest)],
      manifests: [],
      subject,
      artifactType: (m.artifactType as string | undefined) ?? config.mediaType,
      annotations,
    };
  }
  if (INDEX_TYPES.has(mediaType)) {
    if (!Array.isArray(m.manifests)) throw invalid('manifests is not a list');
    const children = m.manifests.map((c, i) => descriptor(c, `manifests[${i}]`));
    return { mediaType, blobs: [], manifests: children.map((c) => c.digest), subject, artifactType: m.artifactType as string | undefined, annotations };
  }
  throw invalid(`unsupported mediaType ${mediaType}`);
}

/** The media types a manifest GET may answer with. */
export const MANIFEST_TYPES = [...IMAGE_TYPES, ...INDEX_TYPES];
