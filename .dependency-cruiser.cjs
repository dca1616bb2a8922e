// Layering of src/ (docs/architecture.md): each layer names what it may
// import; everything else under src/ is forbidden. Nothing imports upward.
const layers = {
  base: [],
  oci: ['base'],
  host: ['base'],
  content: ['base', 'oci'],
  snapshots: ['base', 'oci'],
  images: ['base', 'oci', 'content', 'snapshots'],
  runtime: ['base', 'oci'],
  builder: ['base', 'oci', 'content', 'snapshots', 'images'],
  network: ['base', 'oci'],
  registry: ['base', 'oci', 'content'],
  distribution: ['base', 'oci', 'content'],
  engine: ['base', 'oci', 'host', 'content', 'snapshots', 'images', 'builder', 'runtime', 'network', 'distribution'],
  api: ['base', 'oci', 'engine', 'cluster'],
  client: ['base', 'oci'],
  // berth compose: a client of the Engine API; its spec (files, interpolation, merge, the graph) is pure.
  compose: ['base', 'oci', 'client'],
  'compose/spec': ['base'],
  cli: ['base', 'oci', 'client', 'compose'],
  // The cluster: its agent drives this node's engine; its pure core (records, planner, reconciler)
  // and its store (etcd) stand on base alone; the manager's loop on the core and the store.
  cluster: ['base', 'oci', 'engine', 'network'],
  'cluster/core': ['base', 'oci'],
  // Its certificates (the cluster CA, nodes' keys, the join endpoint) stand on base alone.
  'cluster/tls': ['base'],
  'cluster/store': ['base', 'oci', 'cluster/core', 'cluster/tls'],
  'cluster/manager': ['base', 'oci', 'cluster/core', 'cluster/store', 'cluster/net'],
  // Cluster networks' address management: pure, on the network layer's prefixes.
  'cluster/net': ['base', 'network'],
  // berth lab: daemons in network namespaces of this host, formed into a cluster through their APIs.
  lab: ['base', 'oci', 'network', 'client', 'cli'],
  daemon: ['base', 'oci', 'host', 'content', 'snapshots', 'images', 'builder', 'runtime', 'network', 'engine', 'api', 'registry', 'distribution', 'cluster'],
};

const forbidden = Object.entries(layers).map(([layer, allowed]) => ({
  name: `layer-${layer}`,
  comment: `src/${layer} may import only: ${allowed.join(', ') || 'node built-ins'}`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: '^src/', pathNot: [`^src/(${[layer, ...allowed].join('|')})/`] },
}));

forbidden.push(
  { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
  { name: 'no-unresolvable', severity: 'error', from: {}, to: { couldNotResolve: true } },
  {
    name: 'src-not-from-tests',
    comment: 'production code never imports test helpers',
    severity: 'error',
    from: { path: '^src/', pathNot: '\\.test\\.ts$' },
    to: { path: '(^test/|\\.test\\.ts$)' },
  },
);

module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
