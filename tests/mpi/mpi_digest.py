"""Run a LIF network on a board (one process, or this rank's share under mpirun) and print, on rank 0,
one JSON line: the timing digest (tools/timing_fingerprint.py), the spike rasters, the energy and
the chip-link loads.

    python tests/mpi/mpi_digest.py NETWORK TICKS [KEY=VALUE ...]
    mpirun -n 2 python tests/mpi/mpi_digest.py NETWORK TICKS [KEY=VALUE ...]
"""
import hashlib
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tools")]

from firmware_models.lif_inference.app import load_and_place, raster  # noqa: E402
from timing_fingerprint import digest, timing_results  # noqa: E402


def main() -> None:
    network, ticks, sets = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    ctx, sim, built, _ = load_and_place(network, sets)
    sim.run_ticks(ticks)
    firmwares = sim.gather(("spikes",))
    if not sim.is_root:
        return
    rasters = [raster(built, firmwares, layer, ticks) for layer in range(len(built.net.layers))]
    results = timing_results(sim)
    print(json.dumps({"digest": digest(results), "energy_j": results["energy_j"],
                      "spikes": [int(r.sum()) for r in rasters],
                      "raster_sha": hashlib.sha256(b"".join(r.tobytes() for r in rasters)).hexdigest()[:16],
                      "ranks": getattr(sim.machine, "size", 1), "windows": getattr(sim.machine, "windows", 0),
                      "booking": getattr(sim.machine, "booking", None),
                      "link_crossings": sim.machine.link_load()["crossings"],
                      "link_load_sha": hashlib.sha256(repr(sim.machine.link_load()).encode()).hexdigest()[:16],
                      "link_busy_until_ns": sorted(sim.machine.noc.link_busy_until_ns.items())}))


if __name__ == "__main__":
    main()
