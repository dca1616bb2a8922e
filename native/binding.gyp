{
  "targets": [
    {
      "target_name": "berth_sys",
      "sources": ["berth_sys.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    },
    {
      "target_name": "berth-probe",
      "type": "executable",
      "sources": ["probe_agent.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "ldflags": ["-static", "-s"]
    }
  ]
}
