import * as fs from 'node:fs';
import Ajv2019, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2019';
import { BerthError, invalidArgument } from '../../base/errors';
import { parseGoDuration } from '../../base/duration';
import { type Path, pathText } from './interpolate';

/**
 * The Compose Specification's JSON schema as Debian's docker-compose package
 * ships it (the spec of 2021), so the rules are the spec's own, not ours.
 */
export const SCHEMA_FILE = '/usr/lib/python3/dist-packages/compose/config/compose_spec.json';

type Json = Record<string, any>;

/** The fields the spec has gained since that file was cut, which compose v2 accepts. */
function extend(s: Json): Json {
  delete s.$schema; // an http URL of draft 2019-09 that ajv names by https
  dropIds(s);
  s.properties.name = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' };
  s.properties.include = {
    type: 'array',
    items: {
      oneOf: [
        { type: 'string' },
        {
          type: 'object',
          properties: { path: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] }, project_directory: { type: 'string' }, env_file: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] } },
          required: ['path'],
          additionalProperties: false,
        },
      ],
    },
  };
  const svc = s.definitions.service.properties;
  const dep = svc.depends_on.oneOf[1].patternProperties['^[a-zA-Z0-9._-]+$'];
  dep.properties.condition.enum = ['service_started', 'service_healthy', 'service_completed_successfully'];
  dep.properties.required = { type: 'boolean' };
  dep.properties.restart = { type: 'boolean' };
  const port = svc.ports.items.oneOf[2];
  port.properties.published = { type: ['string', 'integer'] };
  port.properties.host_ip = { type: 'string' };
  port.properties.name = { type: 'string' };
  port.properties.app_protocol = { type: 'string' };
  s.definitions.secret.properties.environment = { type: 'string' };
  s.definitions.config.properties.environment = { type: 'string' };
  s.definitions.config.properties.content = { type: 'string' };
  s.definitions.healthcheck.properties.start_interval = { type: 'string', format: 'duration' };
  svc.attach = { type: 'boolean' };
  const strings = { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] };
  svc.develop = {
    type: 'object',
    properties: {
      watch: {
        type: 'array',
        items: {
          type: 'object',
          required: ['path', 'action'],
          properties: {
            path: { type: 'string' },
            action: { type: 'string', enum: ['rebuild', 'sync', 'restart', 'sync+restart', 'sync+exec'] },
            target: { type: 'string' },
            ignore: strings,
            include: strings,
            initial_sync: { type: 'boolean' },
            exec: {
              type: 'object',
              required: ['command'],
              properties: { command: strings, user: { type: 'string' }, privileged: { type: 'boolean' }, working_dir: { type: 'string' }, environment: { $ref: '#/definitions/list_or_dict' } },
              additionalProperties: false,
            },
          },
          additionalProperties: false,
          patternProperties: { '^x-': {} },
        },
      },
    },
    additionalProperties: false,
    patternProperties: { '^x-': {} },
  };
  svc.build.oneOf[1].properties.tags = { type: 'array', items: { type: 'string' } };
  svc.pull_policy = { type: 'string', enum: ['always', 'never', 'if_not_present', 'build', 'missing'] };
  return s;
}

/** The file names its parts with draft 4's `id`, which draft 2019-09 has no word for: they are labels, refs use pointers. */
function dropIds(v: unknown): void {
  if (!v || typeof v !== 'object') return;
  if (!Array.isArray(v) && typeof (v as Json).id === 'string') delete (v as Json).id;
  for (const x of Object.values(v as Json)) dropIds(x);
}

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (compiled) return compiled;
  let text: string;
  try {
    text = fs.readFileSync(SCHEMA_FILE, 'utf8');
  } catch (e) {
    throw new BerthError('unavailable', `the Compose Specification's schema is missing (${SCHEMA_FILE}): install Debian's docker-compose package`, { cause: e });
  }
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  ajv.addFormat('duration', (d: string) => parseGoDuration(d) !== undefined);
  ajv.addFormat('ports', () => true); // checked with their meaning when normalised
  ajv.addFormat('expose', (e: string | number) => /^\d+(-\d+)?(\/[a-z]+)?$/.test(String(e)));
  ajv.addFormat('subnet_ip_address', (a: string) => /^[0-9a-fA-F:.]+\/\d+$/.test(a));
  compiled = ajv.compile(extend(JSON.parse(text)));
  return compiled;
}

/** Where a path points in the source: the line for an error. */
export type LineOf = (path: Path) => number | undefined;

/**
 * Checks one file's model (after interpolation) against the schema; the
 * error names the file, the line, the service and the field.
 */
export function validateModel(model: unknown, file: string, lineOf: LineOf): void {
  const validate = validator();
  if (validate(model)) return;
  throw invalidArgument(describe(pickError(validate.errors ?? []), file, lineOf));
}

/** Of a oneOf's many complaints, the one deepest in the document says the most. */
function pickError(errors: ErrorObject[]): ErrorObject {
  const depth = (e: ErrorObject) => e.instancePath.split('/').length * 10 + (e.keyword === 'additionalProperties' ? 5 : e.keyword === 'oneOf' ? 0 : 2);
  return errors.reduce((best, e) => (depth(e) > depth(best) ? e : best));
}

function describe(e: ErrorObject, file: string, lineOf: LineOf): string {
  const path: Path = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~')).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  let what: string;
  let at = path;
  if (e.keyword === 'additionalProperties') {
    const extra = String((e.params as { additionalProperty: string }).additionalProperty);
    at = [...path, extra];
    what = `additional property ${extra} is not allowed`;
  } else if (e.keyword === 'type') what = `must be ${[(e.params as { type: string | string[] }).type].flat().join(' or ')}`;
  else if (e.keyword === 'enum') what = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  else if (e.keyword === 'format') what = `is not a valid ${(e.params as { format: string }).format}`;
  else if (e.keyword === 'required') what = `is missing ${(e.params as { missingProperty: string }).missingProperty}`;
  else if (e.keyword === 'oneOf') what = 'has a value of the wrong type or form';
  else what = e.message ?? 'is not valid';
  const line = lineOf(at) ?? lineOf(path);
  const service = path[0] === 'services' && path[1] !== undefined ? ` service "${path[1]}",` : '';
  const field = at[0] === 'services' ? at.slice(2) : at;
  return `${file}${line ? `:${line}` : ''}:${service} ${field.length ? `field ${pathText(field)}` : 'the file'} ${what}`;
}
