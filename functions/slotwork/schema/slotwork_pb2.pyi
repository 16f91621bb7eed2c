import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Params(_message.Message):
    __slots__ = ("int_params", "string_params")
    class IntParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class StringParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    INT_PARAMS_FIELD_NUMBER: _ClassVar[int]
    STRING_PARAMS_FIELD_NUMBER: _ClassVar[int]
    int_params: _containers.ScalarMap[str, int]
    string_params: _containers.ScalarMap[str, str]
    def __init__(self, int_params: _Optional[_Mapping[str, int]] = ..., string_params: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("time", "text")
    TIME_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    text: str
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., text: _Optional[str] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ("start_time", "progress_time", "finish_time", "last_error_time", "stats", "errors", "total_errors", "state")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[Status.State]
        NEW: _ClassVar[Status.State]
        ACTIVE: _ClassVar[Status.State]
        ABORTED: _ClassVar[Status.State]
        INCOMPLETE: _ClassVar[Status.State]
        COMPLETED: _ClassVar[Status.State]
    STATE_UNSPECIFIED: Status.State
    NEW: Status.State
    ACTIVE: Status.State
    ABORTED: Status.State
    INCOMPLETE: Status.State
    COMPLETED: Status.State
    class StatsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_TIME_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_TIME_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ERRORS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    progress_time: _timestamp_pb2.Timestamp
    finish_time: _timestamp_pb2.Timestamp
    last_error_time: _timestamp_pb2.Timestamp
    stats: _containers.ScalarMap[str, float]
    errors: _containers.RepeatedCompositeFieldContainer[Error]
    total_errors: int
    state: Status.State
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., progress_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_error_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stats: _Optional[_Mapping[str, float]] = ..., errors: _Optional[_Iterable[_Union[Error, _Mapping]]] = ..., total_errors: _Optional[int] = ..., state: _Optional[_Union[Status.State, str]] = ...) -> None: ...

class Lease(_message.Message):
    __slots__ = ("holder", "epoch", "expire_time", "released")
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    holder: str
    epoch: int
    expire_time: _timestamp_pb2.Timestamp
    released: bool
    def __init__(self, holder: _Optional[str] = ..., epoch: _Optional[int] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., released: _Optional[bool] = ...) -> None: ...

class Rate(_message.Message):
    __slots__ = ("count", "per")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    PER_FIELD_NUMBER: _ClassVar[int]
    count: float
    per: _duration_pb2.Duration
    def __init__(self, count: _Optional[float] = ..., per: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ErrorBudget(_message.Message):
    __slots__ = ("per_item", "per_run", "per_run_fraction")
    PER_ITEM_FIELD_NUMBER: _ClassVar[int]
    PER_RUN_FIELD_NUMBER: _ClassVar[int]
    PER_RUN_FRACTION_FIELD_NUMBER: _ClassVar[int]
    per_item: int
    per_run: int
    per_run_fraction: float
    def __init__(self, per_item: _Optional[int] = ..., per_run: _Optional[int] = ..., per_run_fraction: _Optional[float] = ...) -> None: ...

class Estimate(_message.Message):
    __slots__ = ("total", "done", "left", "failed", "rate", "eta", "slot_end", "finishes_in_slot")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    LEFT_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    ETA_FIELD_NUMBER: _ClassVar[int]
    SLOT_END_FIELD_NUMBER: _ClassVar[int]
    FINISHES_IN_SLOT_FIELD_NUMBER: _ClassVar[int]
    total: int
    done: int
    left: int
    failed: int
    rate: float
    eta: _timestamp_pb2.Timestamp
    slot_end: _timestamp_pb2.Timestamp
    finishes_in_slot: bool
    def __init__(self, total: _Optional[int] = ..., done: _Optional[int] = ..., left: _Optional[int] = ..., failed: _Optional[int] = ..., rate: _Optional[float] = ..., eta: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., slot_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finishes_in_slot: _Optional[bool] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("time", "done")
    TIME_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    done: int
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., done: _Optional[int] = ...) -> None: ...

class Shard(_message.Message):
    __slots__ = ("schema_version", "process_name", "index", "lease", "run_id", "slot", "shards", "status", "invocations", "items_total", "items_done", "items_failed", "commits", "stalled_takeovers", "done_at_takeover", "current_item", "suspect_items", "progress", "counted_errors", "estimate")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROCESS_NAME_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SLOT_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    INVOCATIONS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ITEMS_DONE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FAILED_FIELD_NUMBER: _ClassVar[int]
    COMMITS_FIELD_NUMBER: _ClassVar[int]
    STALLED_TAKEOVERS_FIELD_NUMBER: _ClassVar[int]
    DONE_AT_TAKEOVER_FIELD_NUMBER: _ClassVar[int]
    CURRENT_ITEM_FIELD_NUMBER: _ClassVar[int]
    SUSPECT_ITEMS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    COUNTED_ERRORS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    process_name: str
    index: int
    lease: Lease
    run_id: str
    slot: _timestamp_pb2.Timestamp
    shards: int
    status: Status
    invocations: int
    items_total: int
    items_done: int
    items_failed: int
    commits: int
    stalled_takeovers: int
    done_at_takeover: int
    current_item: str
    suspect_items: int
    progress: _containers.RepeatedCompositeFieldContainer[Progress]
    counted_errors: int
    estimate: Estimate
    def __init__(self, schema_version: _Optional[int] = ..., process_name: _Optional[str] = ..., index: _Optional[int] = ..., lease: _Optional[_Union[Lease, _Mapping]] = ..., run_id: _Optional[str] = ..., slot: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., shards: _Optional[int] = ..., status: _Optional[_Union[Status, _Mapping]] = ..., invocations: _Optional[int] = ..., items_total: _Optional[int] = ..., items_done: _Optional[int] = ..., items_failed: _Optional[int] = ..., commits: _Optional[int] = ..., stalled_takeovers: _Optional[int] = ..., done_at_takeover: _Optional[int] = ..., current_item: _Optional[str] = ..., suspect_items: _Optional[int] = ..., progress: _Optional[_Iterable[_Union[Progress, _Mapping]]] = ..., counted_errors: _Optional[int] = ..., estimate: _Optional[_Union[Estimate, _Mapping]] = ...) -> None: ...

class Run(_message.Message):
    __slots__ = ("slot", "status", "invocations", "settings_version", "items_left", "missed_slots", "missed_slot_count", "reason", "id", "sequence", "shards", "work_version", "items_total", "finished_shards", "aborting", "items_failed", "counted_errors", "estimate", "items_changed")
    SLOT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    INVOCATIONS_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_VERSION_FIELD_NUMBER: _ClassVar[int]
    ITEMS_LEFT_FIELD_NUMBER: _ClassVar[int]
    MISSED_SLOTS_FIELD_NUMBER: _ClassVar[int]
    MISSED_SLOT_COUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    WORK_VERSION_FIELD_NUMBER: _ClassVar[int]
    ITEMS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    FINISHED_SHARDS_FIELD_NUMBER: _ClassVar[int]
    ABORTING_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FAILED_FIELD_NUMBER: _ClassVar[int]
    COUNTED_ERRORS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    slot: _timestamp_pb2.Timestamp
    status: Status
    invocations: int
    settings_version: int
    items_left: int
    missed_slots: _containers.RepeatedCompositeFieldContainer[_timestamp_pb2.Timestamp]
    missed_slot_count: int
    reason: str
    id: str
    sequence: int
    shards: int
    work_version: int
    items_total: int
    finished_shards: _containers.RepeatedScalarFieldContainer[int]
    aborting: bool
    items_failed: int
    counted_errors: int
    estimate: Estimate
    items_changed: int
    def __init__(self, slot: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[Status, _Mapping]] = ..., invocations: _Optional[int] = ..., settings_version: _Optional[int] = ..., items_left: _Optional[int] = ..., missed_slots: _Optional[_Iterable[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]]] = ..., missed_slot_count: _Optional[int] = ..., reason: _Optional[str] = ..., id: _Optional[str] = ..., sequence: _Optional[int] = ..., shards: _Optional[int] = ..., work_version: _Optional[int] = ..., items_total: _Optional[int] = ..., finished_shards: _Optional[_Iterable[int]] = ..., aborting: _Optional[bool] = ..., items_failed: _Optional[int] = ..., counted_errors: _Optional[int] = ..., estimate: _Optional[_Union[Estimate, _Mapping]] = ..., items_changed: _Optional[int] = ...) -> None: ...

class CatchUp(_message.Message):
    __slots__ = ("policy", "run_late_within")
    class Policy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        POLICY_UNSPECIFIED: _ClassVar[CatchUp.Policy]
        SKIP: _ClassVar[CatchUp.Policy]
        RUN_LATE: _ClassVar[CatchUp.Policy]
    POLICY_UNSPECIFIED: CatchUp.Policy
    SKIP: CatchUp.Policy
    RUN_LATE: CatchUp.Policy
    POLICY_FIELD_NUMBER: _ClassVar[int]
    RUN_LATE_WITHIN_FIELD_NUMBER: _ClassVar[int]
    policy: CatchUp.Policy
    run_late_within: _duration_pb2.Duration
    def __init__(self, policy: _Optional[_Union[CatchUp.Policy, str]] = ..., run_late_within: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Process(_message.Message):
    __slots__ = ("schema_version", "process_name", "schedule_frequency", "settings", "settings_time", "settings_version", "paused", "pause_reason", "lease", "run", "aggregate_stats", "catch_up", "pause_after_aborts", "consecutive_aborts", "last_finished_slot", "work_version", "rate_limit", "error_budget", "quarantined_items", "buckets_complete", "shards", "items_changed")
    class AggregateStatsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROCESS_NAME_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_TIME_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_VERSION_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    PAUSE_REASON_FIELD_NUMBER: _ClassVar[int]
    LEASE_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_STATS_FIELD_NUMBER: _ClassVar[int]
    CATCH_UP_FIELD_NUMBER: _ClassVar[int]
    PAUSE_AFTER_ABORTS_FIELD_NUMBER: _ClassVar[int]
    CONSECUTIVE_ABORTS_FIELD_NUMBER: _ClassVar[int]
    LAST_FINISHED_SLOT_FIELD_NUMBER: _ClassVar[int]
    WORK_VERSION_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    ERROR_BUDGET_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_ITEMS_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    process_name: str
    schedule_frequency: _duration_pb2.Duration
    settings: Params
    settings_time: _timestamp_pb2.Timestamp
    settings_version: int
    paused: bool
    pause_reason: str
    lease: Lease
    run: Run
    aggregate_stats: _containers.ScalarMap[str, float]
    catch_up: CatchUp
    pause_after_aborts: int
    consecutive_aborts: int
    last_finished_slot: _timestamp_pb2.Timestamp
    work_version: int
    rate_limit: Rate
    error_budget: ErrorBudget
    quarantined_items: int
    buckets_complete: bool
    shards: _containers.RepeatedCompositeFieldContainer[Shard]
    items_changed: int
    def __init__(self, schema_version: _Optional[int] = ..., process_name: _Optional[str] = ..., schedule_frequency: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., settings: _Optional[_Union[Params, _Mapping]] = ..., settings_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., settings_version: _Optional[int] = ..., paused: _Optional[bool] = ..., pause_reason: _Optional[str] = ..., lease: _Optional[_Union[Lease, _Mapping]] = ..., run: _Optional[_Union[Run, _Mapping]] = ..., aggregate_stats: _Optional[_Mapping[str, float]] = ..., catch_up: _Optional[_Union[CatchUp, _Mapping]] = ..., pause_after_aborts: _Optional[int] = ..., consecutive_aborts: _Optional[int] = ..., last_finished_slot: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., work_version: _Optional[int] = ..., rate_limit: _Optional[_Union[Rate, _Mapping]] = ..., error_budget: _Optional[_Union[ErrorBudget, _Mapping]] = ..., quarantined_items: _Optional[int] = ..., buckets_complete: _Optional[bool] = ..., shards: _Optional[_Iterable[_Union[Shard, _Mapping]]] = ..., items_changed: _Optional[int] = ...) -> None: ...

class Work(_message.Message):
    __slots__ = ("schema_version", "name", "list", "params", "modified", "status", "done_slot", "bucket", "attempts", "attempt_slot", "next_attempt_time", "failed_slots", "quarantine_reason")
    class List(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        LIST_UNSPECIFIED: _ClassVar[Work.List]
        ACTIVE: _ClassVar[Work.List]
        CLEANUP: _ClassVar[Work.List]
        DROPPED: _ClassVar[Work.List]
        QUARANTINED: _ClassVar[Work.List]
    LIST_UNSPECIFIED: Work.List
    ACTIVE: Work.List
    CLEANUP: Work.List
    DROPPED: Work.List
    QUARANTINED: Work.List
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LIST_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DONE_SLOT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_SLOT_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_TIME_FIELD_NUMBER: _ClassVar[int]
    FAILED_SLOTS_FIELD_NUMBER: _ClassVar[int]
    QUARANTINE_REASON_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    name: str
    list: Work.List
    params: Params
    modified: _timestamp_pb2.Timestamp
    status: Status
    done_slot: _timestamp_pb2.Timestamp
    bucket: int
    attempts: int
    attempt_slot: _timestamp_pb2.Timestamp
    next_attempt_time: _timestamp_pb2.Timestamp
    failed_slots: int
    quarantine_reason: str
    def __init__(self, schema_version: _Optional[int] = ..., name: _Optional[str] = ..., list: _Optional[_Union[Work.List, str]] = ..., params: _Optional[_Union[Params, _Mapping]] = ..., modified: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[Status, _Mapping]] = ..., done_slot: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., bucket: _Optional[int] = ..., attempts: _Optional[int] = ..., attempt_slot: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., next_attempt_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failed_slots: _Optional[int] = ..., quarantine_reason: _Optional[str] = ...) -> None: ...

class RunRecord(_message.Message):
    __slots__ = ("schema_version", "process_name", "run")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROCESS_NAME_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    process_name: str
    run: Run
    def __init__(self, schema_version: _Optional[int] = ..., process_name: _Optional[str] = ..., run: _Optional[_Union[Run, _Mapping]] = ...) -> None: ...

class WorkResponse(_message.Message):
    __slots__ = ("id", "state", "details", "uri")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    id: str
    state: str
    details: Work
    uri: str
    def __init__(self, id: _Optional[str] = ..., state: _Optional[str] = ..., details: _Optional[_Union[Work, _Mapping]] = ..., uri: _Optional[str] = ...) -> None: ...
