"""Topology: where replicas can physically run.

Pure functions for the optimizer (`placement`: replica footprints, servers per rack), a networkx graph of
sites, racks, servers, chips and switches (`build`), and queries on it: scale-up domains (`domains`),
rack capacity (`capacity`), bandwidth and latency (`bandwidth`), replica placement
(`replica_placement`) and physical checks (`checks`). `outputs` and `cli` write GraphML, a picture and a
per-rack CSV; `draw` (matplotlib) is only imported by them.
"""

from planner.topology.bandwidth import LinkReport, PathInfo, bandwidth_between, link_between, path_between
from planner.topology.build import build_topology
from planner.topology.capacity import RackCapacity, rack_capacity, rack_table
from planner.topology.checks import Violation, check_topology
from planner.topology.domains import Domain, domain_of, domain_sizes, scaleup_domains
from planner.topology.installed import Installed, installed_from_fleet, read_purchases_csv
from planner.topology.placement import Footprint, rack_fit, replica_footprint, required_pp_bandwidth_gbs
from planner.topology.replica_placement import Placement, place_replica, place_replicas
from planner.topology.templates import HardwareTemplate, template_from_chip

__all__ = [
    "Domain", "Footprint", "HardwareTemplate", "Installed", "LinkReport", "PathInfo", "Placement", "RackCapacity",
    "Violation", "bandwidth_between", "build_topology", "check_topology", "domain_of", "domain_sizes",
    "installed_from_fleet", "link_between", "path_between", "place_replica", "place_replicas", "rack_capacity",
    "rack_fit", "rack_table", "read_purchases_csv", "replica_footprint", "required_pp_bandwidth_gbs",
    "scaleup_domains", "template_from_chip",
]
