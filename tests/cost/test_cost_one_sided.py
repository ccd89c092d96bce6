"""The one-sided costs in the per-minute cost model (`make cost`, the bench report): NAT gateways and
public IPv4 for the cluster, CloudWatch Logs ingestion for Lambda, EKS extended support; from the
same parameters and rows as the simulator's bill, so the two never price them differently."""

from __future__ import annotations

import argparse

import pytest
from twinbench.cli import simulate as simulate_cli
from twinbench.cost import model as cost
from twinbench.cost import traffic
from twinbench.cost.lambda_logs import lambda_log_bytes
from twinbench.cost.model import ContainerConfig, LambdaConfig
from twinbench.cost.prices import load_prices
from twinbench.simulate import engine
from twinbench.simulate.params import OneSidedCosts

HOURS = 730
PRICES = load_prices()


def _item(c: cost.PlatformCost, prefix: str) -> cost.LineItem:
    return next(i for i in c.items if i.name.startswith(prefix))


def test_the_comparison_prices_them_by_default_and_the_platform_alone_has_none():
    result = cost.compare(traffic.constant(10.0), LambdaConfig(20, 1024), ContainerConfig(pod_rps=400))
    for platform_cost in (result.eks_cost, result.fargate_cost):
        assert any(i.name.startswith("NAT gateway (") for i in platform_cost.items)
    assert any(i.name == "CloudWatch Logs ingestion" for i in result.lambda_cost.items)
    alone = cost.eks_monthly_cost(traffic.constant(10.0), ContainerConfig(pod_rps=400))
    assert not any(i.name.startswith(("NAT", "public IPv4")) for i in alone.items)


def test_the_cluster_pays_nat_and_ipv4():
    d = OneSidedCosts()
    c = cost.eks_monthly_cost(traffic.constant(10.0), ContainerConfig(pod_rps=400), costs=d)
    assert _item(c, "NAT gateway (").monthly_usd == pytest.approx(d.nat_gateways * HOURS * PRICES.usd("nat_gateway_usd_per_hour"))
    assert _item(c, "NAT gateway data").monthly_usd == pytest.approx(d.nat_gb_per_month * PRICES.usd("nat_gateway_usd_per_gb"))
    assert _item(c, "public IPv4").monthly_usd == pytest.approx(d.public_ipv4 * HOURS * PRICES.usd("public_ipv4_usd_per_hour"))
    for on_eks in (True, False):  # Fargate tasks sit behind the same NAT and ALB
        f = cost.fargate_monthly_cost(traffic.constant(10.0), ContainerConfig(pod_rps=400), on_eks=on_eks, costs=d)
        assert _item(f, "NAT gateway (").monthly_usd == _item(c, "NAT gateway (").monthly_usd


def test_extended_support_raises_the_control_plane_and_parameters_change_the_rows():
    costs = OneSidedCosts(nat_gateways=3, nat_gb_per_month=50.0, public_ipv4=4, eks_extended_support=True)
    c = cost.eks_monthly_cost(traffic.constant(10.0), ContainerConfig(pod_rps=400), costs=costs)
    assert _item(c, "EKS control plane (extended support)").monthly_usd == pytest.approx(
        HOURS * PRICES.usd("eks_extended_support_usd_per_hour"))
    assert _item(c, "NAT gateway (3)").quantity == 3 * HOURS
    assert _item(c, "NAT gateway data").quantity == 50.0
    assert _item(c, "public IPv4 addresses (4").quantity == 4 * HOURS


def test_lambda_pays_log_ingestion_per_invocation_and_per_cold_start():
    profile = traffic.constant(5.0)
    c = cost.lambda_monthly_cost(profile, LambdaConfig(20, 1024), costs=OneSidedCosts())
    logs = lambda_log_bytes()
    expected_gb = (profile.requests_per_month * logs.per_invocation
                   + c.sizing["cold_starts_per_month"] * logs.per_cold_start) / 1e9
    item = _item(c, "CloudWatch Logs ingestion")
    assert item.quantity == pytest.approx(expected_gb)
    assert item.monthly_usd == pytest.approx(expected_gb * PRICES.usd("cloudwatch_logs_ingestion_usd_per_gb"))
    given = cost.lambda_monthly_cost(profile, LambdaConfig(20, 1024),
                                     costs=OneSidedCosts(lambda_log_bytes_per_invocation=2000.0))
    assert _item(given, "CloudWatch Logs ingestion").quantity > item.quantity


def test_the_simulator_and_the_cost_model_bill_the_same_rows():
    parser = argparse.ArgumentParser()
    simulate_cli.add_arguments(parser)
    config = simulate_cli.build_config(parser.parse_args(
        ["--rps", "10", "--minutes", "60", "--platforms", "kubernetes", "--nat-gateways", "2",
         "--nat-gb-per-month", "30", "--public-ipv4", "5", "--eks-extended-support"]))
    costs = config.costs
    assert (costs.nat_gateways, costs.public_ipv4, costs.eks_extended_support) == (2, 5, True)
    sim = {i["name"]: i for i in engine.simulate(config).kube["cost"]["items"]}
    model = {i.name: i for i in cost.eks_monthly_cost(traffic.constant(10.0), ContainerConfig(pod_rps=400),
                                                       costs=costs).items}
    shared = [n for n in model if n.startswith(("EKS control plane", "NAT gateway", "public IPv4"))]
    assert len(shared) == 4
    for name in shared:
        assert sim[name]["monthly_usd"] == pytest.approx(model[name].monthly_usd), name
