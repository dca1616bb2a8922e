"""A build through the Docker SDK for Python, which finds the image by docker's
"Successfully built <id>" line; printed as JSON for comparison."""
import io
import json
import sys

import docker

client = docker.DockerClient(base_url=sys.argv[1], version='1.41')
tag = f'sdkbuild-{sys.argv[2]}:1'
dockerfile = io.BytesIO(b'FROM busybox\nRUN echo built > /built\nLABEL made=sdk\n')
image, logs = client.images.build(fileobj=dockerfile, tag=tag, rm=True)
steps = [l['stream'] for l in logs if 'stream' in l]
out = {
    'tags': image.tags,
    'label': image.labels.get('made'),
    'id_short_in_log': any(l.strip() == f'Successfully built {image.short_id.split(":")[1]}' for l in steps),
    'arrow_lines_exact': all(len(l.strip().split()) == 2 for l in steps if l.strip().startswith('--->') and 'Running in' not in l and 'Using cache' not in l),
    'output': client.containers.run(tag, 'cat /built', remove=True).decode(),
}
try:
    client.images.build(fileobj=io.BytesIO(b'FROM busybox\nRUN exit 3\n'), rm=True)
    out['failed_build'] = 'no error'
except docker.errors.BuildError as e:
    out['failed_build'] = str(e.msg)
client.images.remove(tag)
print(json.dumps(out, sort_keys=True))
