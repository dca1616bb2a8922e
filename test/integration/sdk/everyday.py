"""What a script does every day with the Docker SDK for Python, printed as one JSON
object so that the same run against dockerd and against Berth can be compared."""
import json
import sys

import docker

client = docker.DockerClient(base_url=sys.argv[1], version='1.41')
out = {}
name = sys.argv[2]

# "Run and return the output": the SDK reads the logs only of drivers it knows.
out['run_output'] = client.containers.run('busybox', ['sh', '-c', 'echo hello; echo err >&2'], remove=True).decode()
out['run_stderr'] = client.containers.run('busybox', ['sh', '-c', 'echo err >&2'], stdout=False, stderr=True, remove=True).decode()

c = client.containers.run('busybox', ['sh', '-c', 'echo started; sleep 1000'], detach=True, name=name)
out['status'] = c.status
c.reload()
out['reloaded_status'] = c.status
out['log_driver'] = c.attrs['HostConfig']['LogConfig']['Type']
code, output = c.exec_run(['sh', '-c', 'echo in; exit 3'])
out['exec'] = [code, output.decode()]
code, output = c.exec_run('nosuchbinary')
out['exec_missing'] = code
out['listed'] = [x.name for x in client.containers.list(filters={'name': name})]
c.kill()
c.reload()
out['after_kill'] = [c.status, c.attrs['State']['ExitCode']]
out['logs'] = c.logs().decode()
out['wait'] = c.wait()['StatusCode']
c.remove()
try:
    client.containers.get(name)
    out['after_remove'] = 'still there'
except docker.errors.NotFound:
    out['after_remove'] = 'NotFound'

quiet = client.containers.run('busybox', 'echo nothing kept', log_config={'type': 'none'}, detach=True)
quiet.wait()
try:
    quiet.logs()
    out['none_logs'] = 'read'
except docker.errors.APIError as e:
    out['none_logs'] = [e.status_code, e.explanation]
quiet.remove()

print(json.dumps(out, sort_keys=True))
