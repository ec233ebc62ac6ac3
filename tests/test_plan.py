"""The plan tree the analysis builds beside its rows (convcalc.plan), and verify's view of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, ROOT

from convcalc import Report, analyze
from convcalc.loader import load_network
from convcalc.plan import Group, Leaf, Merge, Plan, checked_nodes, plan_rows
from convcalc.reference import plan as reference_plan
from convcalc.reference.plan import Block, PlanMismatch, build_plan, checked_rows
from convcalc.spec import Network

EXAMPLE_FILES = sorted([*EXAMPLES.glob("*.yaml"), *(ROOT / "docs" / "examples").glob("*.yaml")])

NESTED = {
    "input": [4, 16, 16],
    "layers": [
        {"type": "conv", "filters": 4, "kernel": 3, "padding": 1},
        {"type": "sequential", "name": "stage", "repeat": 2, "layers": [
            {"type": "residual", "layers": [
                {"type": "conv", "filters": 4, "kernel": 3, "padding": 1}, "relu"]},
            {"type": "parallel", "merge": "concat", "branches": [
                [{"type": "conv", "filters": 2, "kernel": 1}], [],
                [{"type": "sequential", "repeat": 3, "layers": ["relu"]}]]},
            {"type": "conv", "filters": 4, "kernel": 1},
        ]},
        {"type": "parallel", "merge": "add", "branches": [["relu"], []]},
        "flatten",
    ],
}
"""Containers in containers: a repeat of a residual and a parallel holding a repeat."""


def _nested() -> Network:
    return Network.model_validate(NESTED)


def _plan(report: Report) -> Plan:
    assert report.plan is not None
    return report.plan


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda path: Path(path).stem)
def test_the_tree_holds_every_row_once_in_the_reports_order(path: Path) -> None:
    """Read back from the tree, the rows are the report's rows, the very objects, in order."""
    report = analyze(load_network(path).network)
    rows = list(plan_rows(_plan(report).nodes))
    assert len(rows) == len(report.layers)
    assert all(mine is theirs for mine, theirs in zip(rows, report.layers, strict=True))


def test_a_nested_network_has_its_containers_turns_and_merges() -> None:
    """Each container is a group of one turn per repeat; each merge closes its turn."""
    network = _nested()
    report = analyze(network)
    plan = _plan(report)
    assert plan.network is network
    assert [type(node) for node in plan.nodes] == [Leaf, Group, Group, Leaf]
    stage = plan.nodes[1]
    assert isinstance(stage, Group) and stage.layer is network.layers[1]
    assert stage.row.name == "stage" and stage.row.container
    assert [turn.row.name for turn in stage.turns if turn.row] == ["stage.0", "stage.1"]
    residual, parallel, _ = stage.turns[1].bodies[0]
    assert isinstance(residual, Group) and isinstance(parallel, Group)
    merge = residual.turns[0].merge
    assert merge is not None and (merge.kind, merge.row.name) == ("add", "stage.1.residual1.add")
    assert len(parallel.turns[0].bodies) == 3 and parallel.turns[0].bodies[1] == ()
    inner = parallel.turns[0].bodies[2][0]
    assert isinstance(inner, Group) and len(inner.turns) == 3
    assert all(turn.merge is None for turn in inner.turns)
    assert list(plan_rows(plan.nodes)) == list(report.layers)


def test_leaves_and_merges_are_numbered_in_the_checked_rows_order() -> None:
    """Their indexes count 0, 1, … over the rows that are not subtotals."""
    report = analyze(_nested())
    checked = list(checked_nodes(_plan(report).nodes))
    assert [node.index for node in checked] == list(range(len(checked)))
    assert [node.row for node in checked] == [row for row in report.layers if not row.container]
    assert {type(node) for node in checked} == {Leaf, Merge}


def test_the_plan_is_not_in_the_json() -> None:
    """The report's JSON and dump have no plan; a report read back from JSON has none."""
    report = analyze(_nested())
    text = report.model_dump_json()
    assert "plan" not in report.model_dump() and '"plan"' not in text
    assert Report.model_validate_json(text).plan is None
    assert text == Report.model_validate_json(text).model_dump_json()


def test_verify_shares_the_trees_leaf_and_merge_classes() -> None:
    """convcalc.reference.plan re-exports the tree's Leaf and Merge, not copies of them."""
    assert reference_plan.Leaf is Leaf and reference_plan.Merge is Merge


def _flat(nodes: Any) -> list[str]:
    """Return verify's plan as text: leaf and merge names, blocks as brackets."""
    out: list[str] = []
    for node in nodes:
        if isinstance(node, Block):
            out.append("[" + " | ".join(" ".join(_flat(body)) for body in node.bodies) + "]"
                       + (f"+{node.merge.row.name}" if node.merge else ""))
        else:
            out.append(node.row.name)
    return out


def test_verify_lays_repeats_out_as_blocks() -> None:
    """A container is one block per turn; the leaves keep the tree's rows and indexes."""
    report = analyze(Network.model_validate({"input": [2, 8], "layers": [
        {"type": "sequential", "name": "s", "repeat": 2, "layers": [
            "relu", {"type": "residual", "layers": ["relu"]}]}]}))
    plan = build_plan(_plan(report).network, report)
    assert _flat(plan) == ["[s.0.relu1 [s.0.residual1.relu1 | ]+s.0.residual1.add]",
                           "[s.1.relu1 [s.1.residual1.relu1 | ]+s.1.residual1.add]"]
    assert list(checked_rows(plan)) == list(checked_nodes(_plan(report).nodes))


def test_a_copied_report_is_paired_with_its_own_rows() -> None:
    """A copy with other rows gets those rows in verify's plan, not the tree's."""
    network = _nested()
    report = analyze(network)
    rows = tuple(row.model_copy(update={"macs": row.macs + 1}) for row in report.layers)
    copy = report.model_copy(update={"layers": rows})
    assert copy.plan is report.plan
    leaves = list(checked_rows(build_plan(network, copy)))
    assert [leaf.row for leaf in leaves] == [row for row in rows if not row.container]
    assert all(leaf.row is row for leaf, row in
               zip(leaves, [row for row in rows if not row.container], strict=True))


def test_a_report_without_a_tree_gets_one_from_the_analysis() -> None:
    """A report read from JSON has no tree: build_plan analyses the network for one."""
    network = _nested()
    report = analyze(network)
    again = Report.model_validate_json(report.model_dump_json())
    assert _flat(build_plan(network, again)) == _flat(build_plan(network, report))


def test_a_report_of_another_network_is_a_mismatch() -> None:
    """The rows of another network do not follow this one's tree: PlanMismatch."""
    other = analyze(Network.model_validate({"input": [4, 16, 16], "layers": ["relu"]}))
    with pytest.raises(PlanMismatch, match="expected a layer row of type conv, found row "
                                           "'relu1' \\(relu\\)"):
        build_plan(_nested(), other)
    short = analyze(Network.model_validate({"input": [4, 16, 16], "layers": [
        {"type": "conv", "filters": 4, "kernel": 3, "padding": 1}, "relu"]}))
    with pytest.raises(PlanMismatch, match="row 'relu1' is left over"):
        build_plan(Network.model_validate({"input": [4, 16, 16], "layers": [
            {"type": "conv", "filters": 4, "kernel": 3, "padding": 1}]}), short)


# ------------------------------------------------------ after layers and aux heads

AFTER_AND_AUX = {
    "input": [2, 6, 6],
    "layers": [
        {"type": "residual", "name": "block", "repeat": 2,
         "layers": [{"type": "conv", "filters": 2, "kernel": 3, "padding": 1}],
         "after": [{"type": "relu", "name": "relu"}]},
        {"type": "aux", "name": "head", "layers": ["global_avgpool"]},
        {"type": "parallel", "merge": "mul", "branches": [[], ["sigmoid"]],
         "after": ["relu"]},
    ],
}
"""after layers in a repeated residual and a parallel, and an aux head between them."""


def test_after_and_aux_are_part_of_the_plan() -> None:
    """A turn's after nodes come after its merge, in the rows' order; an aux head is a
    group whose one body is the head; checked_nodes and plan_rows cover every row."""
    network = Network.model_validate(AFTER_AND_AUX)
    report = analyze(network)
    plan = report.plan
    assert plan is not None
    block, head, mul = plan.nodes
    assert isinstance(block, Group) and isinstance(head, Group) and isinstance(mul, Group)
    assert [leaf.row.name for turn in block.turns for leaf in turn.after
            if isinstance(leaf, Leaf)] == ["block.0.relu", "block.1.relu"]
    assert head.layer.aux and [n.row.name for n in head.turns[0].bodies[0]] == [
        "head.global_avgpool1"]
    assert [row.name for row in plan_rows(plan.nodes)] == [row.name for row in report.layers]
    checked = [node.row.name for node in checked_nodes(plan.nodes)]
    assert checked == [row.name for row in report.layers if not row.container]
    assert [node.index for node in checked_nodes(plan.nodes)] == list(range(len(checked)))


def test_verify_plan_keeps_after_and_marks_the_aux_block() -> None:
    """verify's plan has the after nodes in each block and an aux block; its checked rows
    are the report's leaf and merge rows in order."""
    network = Network.model_validate(AFTER_AND_AUX)
    report = analyze(network)
    nodes = build_plan(network, report)
    blocks = [node for node in nodes if isinstance(node, Block)]
    assert [block.aux for block in blocks] == [False, False, True, False]
    assert [len(block.after) for block in blocks] == [1, 1, 0, 1]
    assert [step.row.name for step in checked_rows(nodes)] == [
        row.name for row in report.layers if not row.container]
