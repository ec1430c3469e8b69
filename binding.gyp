# The iro native addon (src/native/*.c): Node-API only, built by node-gyp at `npm install` /
# `npm ci`, or by hand with `npx node-gyp rebuild`. It calls the OpenSSL that the node binary
# links and exports (headers from Node's include directory), so nothing else is linked.
{
  "targets": [
    {
      "target_name": "iro_native",
      "sources": [
        "src/native/addon.c",
        "src/native/tun.c",
        "src/native/sock.c",
        "src/native/watch.c",
        "src/native/aead.c",
        "src/native/offload.c"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags!": ["-O3", "-Wno-unused-parameter"],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra"]
    }
  ]
}
