"""`medallion test`: the Silver configuration's unit tests, run offline by the real binary."""
import pathlib
import shutil

from conftest import ROOT, binary, run


def copy_tree(dest: pathlib.Path) -> pathlib.Path:
    for name in ("configs", "schemas", "rules", "pipelines"):
        shutil.copytree(ROOT / name, dest / name)
    return dest


def test_the_bundled_event_types_pass_their_tests():
    status, out, err = run([binary("medallion"), "test", "--config", str(ROOT)])
    text = out.decode()
    assert status == 0, text + err
    for event_type in ("thermostat.telemetry", "door.access", "energy.meter"):
        assert f"rules/event_types/{event_type}.tests.yaml:" in text
    assert "FAIL" not in text
    passed, total = text.strip().splitlines()[-1].split(" test(s)")[0].split(" of ")
    assert passed == total and int(total) >= 20


def test_a_wrong_expected_value_fails_with_the_field_the_expected_and_the_actual_value(tmp_path):
    root = copy_tree(tmp_path)
    tests = root / "rules/event_types/thermostat.telemetry.tests.yaml"
    text = tests.read_text()
    # The converted temperature is 21.5; claim 70.7 (the Fahrenheit value as sent).
    wrong = text.replace("expect: {outcome: kept, values: {temperature: 21.5, setpoint: 20, unit: C}}",
                         "expect: {outcome: kept, values: {temperature: 70.7, setpoint: 20, unit: C}}")
    assert wrong != text
    tests.write_text(wrong)
    status, out, err = run([binary("medallion"), "test", "--config", str(root), "--event-type", "thermostat.telemetry"])
    text = out.decode()
    assert status == 1, text + err
    fail_lines = [l for l in text.splitlines() if "FAIL" in l]
    assert len(fail_lines) == 1
    assert "fahrenheit readings are stored in celsius" in fail_lines[0]
    assert "thermostat.telemetry.tests.yaml:" in fail_lines[0]  # where the test is
    assert "temperature: expected 70.7, got 21.5" in text
    assert text.strip().endswith("test(s) passed")


def test_a_wrong_expected_outcome_names_the_rule_that_actually_decided(tmp_path):
    root = copy_tree(tmp_path)
    tests = root / "rules/event_types/energy.meter.tests.yaml"
    tests.write_text(tests.read_text() + """
  - name: a negative counter is kept (wrong on purpose)
    event: {payload: {kwh: 5, power_factor: 1.5}}
    expect: {outcome: kept, warnings: []}
""")
    status, out, _ = run([binary("medallion"), "test", "--config", str(root), "--event-type", "energy.meter"])
    text = out.decode()
    assert status == 1
    assert "outcome: expected kept" in text and "schema_violation" in text and "power_factor" in text


def test_a_rule_change_is_caught_by_the_tests(tmp_path):
    """Loosen a rule and the test that relied on it fails: the tests guard the configuration."""
    root = copy_tree(tmp_path)
    rules = root / "rules/event_types/thermostat.telemetry.yaml"
    rules.write_text(rules.read_text().replace("max: 150", "max: 1000"))
    status, out, _ = run([binary("medallion"), "test", "--config", str(root)])
    text = out.decode()
    assert status == 1
    assert "an implausible temperature is dropped by temperature_plausible" in text
    assert "outcome: expected dropped by rule temperature_plausible (rule_failed), got kept" in text


def test_a_broken_tests_file_is_a_configuration_error_with_file_and_line(tmp_path):
    root = copy_tree(tmp_path)
    tests = root / "rules/event_types/door.access.tests.yaml"
    tests.write_text(tests.read_text().replace("expect: {outcome: dropped, reason: schema_violation}",
                                               "expect: {outcome: vanished}", 1))
    status, out, err = run([binary("medallion"), "test", "--config", str(root)])
    assert status == 78, out.decode() + err
    assert "rules/event_types/door.access.tests.yaml:" in err
    assert "'vanished' is not one of kept, dropped, failed" in err


def test_no_tests_files_is_said_plainly(tmp_path):
    root = copy_tree(tmp_path)
    for f in (root / "rules/event_types").glob("*.tests.yaml"):
        f.unlink()
    status, _, err = run([binary("medallion"), "test", "--config", str(root)])
    assert status == 78
    assert "no tests" in err and ".tests.yaml" in err


def test_check_compiles_the_silver_programs_and_names_the_rules_file(tmp_path):
    """A schema change that leaves a standardisation on the wrong type passes every per-file check;
    `medallion check` still catches it, because it builds what silver-validate would run."""
    root = copy_tree(tmp_path)
    for v in ("v1.0.json", "v1.1.json"):
        f = root / "schemas/event_types/thermostat.telemetry" / v
        f.write_text(f.read_text().replace('"temperature": {"type": "number"', '"temperature": {"type": "integer"'))
    status, out, err = run([binary("medallion"), "check", "--config", str(root)])
    assert status == 78, out.decode() + err
    assert "rules/event_types/thermostat.telemetry.yaml:" in err and "to_celsius on 'temperature'" in err
    assert 'declare temperature as "type": "number"' in err


def test_an_absurd_unique_window_is_a_configuration_error_not_a_crash(tmp_path):
    root = copy_tree(tmp_path)
    rules = root / "rules/event_types/thermostat.telemetry.yaml"
    rules.write_text(rules.read_text().replace("window: 24h", "window: 200000000000d"))
    status, _, err = run([binary("medallion"), "check", "--config", str(root)])
    assert status == 78 and "thermostat.telemetry.yaml:" in err and "longer than ten years" in err
    status, _, err = run([binary("silver-validate"), "--config", str(root), "--tenant", "acme", "--dry-run"], stdin=b"")
    assert status == 78, err
