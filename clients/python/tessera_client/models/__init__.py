"""Contains all the data models used in inputs/outputs"""

from .accelerator import Accelerator
from .accepted import Accepted
from .application_create import ApplicationCreate
from .application_out import ApplicationOut
from .application_page import ApplicationPage
from .attempt_list import AttemptList
from .attempt_out import AttemptOut
from .attempt_out_placement import AttemptOutPlacement
from .build_configuration import BuildConfiguration
from .build_configuration_environment import BuildConfigurationEnvironment
from .build_configuration_hardware_type_0 import BuildConfigurationHardwareType0
from .build_configuration_package import BuildConfigurationPackage
from .build_out import BuildOut
from .build_request import BuildRequest
from .build_section import BuildSection
from .build_started import BuildStarted
from .cancelled import Cancelled
from .deleted import Deleted
from .deployment_created import DeploymentCreated
from .deployment_out import DeploymentOut
from .deployment_page import DeploymentPage
from .deployment_spec import DeploymentSpec
from .deployment_spec_environment import DeploymentSpecEnvironment
from .deployment_specification import DeploymentSpecification
from .error_body import ErrorBody
from .executable_list import ExecutableList
from .executable_out import ExecutableOut
from .executable_out_artifact_type_0 import ExecutableOutArtifactType0
from .executable_out_hwinfo_type_0 import ExecutableOutHwinfoType0
from .executable_task import ExecutableTask
from .executable_task_environment import ExecutableTaskEnvironment
from .executable_task_hardware_type_0 import ExecutableTaskHardwareType0
from .field_error import FieldError
from .file_spec import FileSpec
from .health import Health
from .health_checks import HealthChecks
from .inspection_created import InspectionCreated
from .inspection_out import InspectionOut
from .inspection_page import InspectionPage
from .inspection_spec import InspectionSpec
from .inspection_spec_environment import InspectionSpecEnvironment
from .inspection_spec_package_manager_type_0 import InspectionSpecPackageManagerType0
from .inspection_specification import InspectionSpecification
from .node_drain import NodeDrain
from .node_out import NodeOut
from .node_out_labels import NodeOutLabels
from .node_page import NodePage
from .node_state import NodeState
from .offer import Offer
from .offer_request import OfferRequest
from .offer_request_hardware_type_0 import OfferRequestHardwareType0
from .offers import Offers
from .offers_hardware import OffersHardware
from .python_section import PythonSection
from .requests import Requests
from .requests_hardware_type_0 import RequestsHardwareType0
from .restarted import Restarted
from .retry import Retry
from .retry_on_item import RetryOnItem
from .ruled_out import RuledOut
from .run_links import RunLinks
from .run_list import RunList
from .run_out import RunOut
from .run_placement import RunPlacement
from .run_placement_placement import RunPlacementPlacement
from .run_result import RunResult
from .run_result_hwinfo import RunResultHwinfo
from .run_result_os_release_type_0 import RunResultOsReleaseType0
from .run_result_usage_type_0 import RunResultUsageType0
from .run_section import RunSection
from .slurm_request import SlurmRequest
from .source_out import SourceOut
from .stage_out import StageOut
from .stage_out_counts import StageOutCounts
from .stage_spec import StageSpec
from .status import Status
from .status_runs import StatusRuns
from .task_copy_out import TaskCopyOut
from .task_copy_page import TaskCopyPage
from .task_input import TaskInput
from .task_spec import TaskSpec
from .testbed_create import TestbedCreate
from .testbed_create_config import TestbedCreateConfig
from .testbed_list import TestbedList
from .testbed_out import TestbedOut
from .testbed_out_config import TestbedOutConfig
from .timeline import Timeline
from .timeline_entry import TimelineEntry
from .workflow_cancelled import WorkflowCancelled
from .workflow_created import WorkflowCreated
from .workflow_out import WorkflowOut
from .workflow_page import WorkflowPage
from .workflow_spec import WorkflowSpec
from .workflow_summary import WorkflowSummary

__all__ = (
    "Accelerator",
    "Accepted",
    "ApplicationCreate",
    "ApplicationOut",
    "ApplicationPage",
    "AttemptList",
    "AttemptOut",
    "AttemptOutPlacement",
    "BuildConfiguration",
    "BuildConfigurationEnvironment",
    "BuildConfigurationHardwareType0",
    "BuildConfigurationPackage",
    "BuildOut",
    "BuildRequest",
    "BuildSection",
    "BuildStarted",
    "Cancelled",
    "Deleted",
    "DeploymentCreated",
    "DeploymentOut",
    "DeploymentPage",
    "DeploymentSpec",
    "DeploymentSpecEnvironment",
    "DeploymentSpecification",
    "ErrorBody",
    "ExecutableList",
    "ExecutableOut",
    "ExecutableOutArtifactType0",
    "ExecutableOutHwinfoType0",
    "ExecutableTask",
    "ExecutableTaskEnvironment",
    "ExecutableTaskHardwareType0",
    "FieldError",
    "FileSpec",
    "Health",
    "HealthChecks",
    "InspectionCreated",
    "InspectionOut",
    "InspectionPage",
    "InspectionSpec",
    "InspectionSpecEnvironment",
    "InspectionSpecification",
    "InspectionSpecPackageManagerType0",
    "NodeDrain",
    "NodeOut",
    "NodeOutLabels",
    "NodePage",
    "NodeState",
    "Offer",
    "OfferRequest",
    "OfferRequestHardwareType0",
    "Offers",
    "OffersHardware",
    "PythonSection",
    "Requests",
    "RequestsHardwareType0",
    "Restarted",
    "Retry",
    "RetryOnItem",
    "RuledOut",
    "RunLinks",
    "RunList",
    "RunOut",
    "RunPlacement",
    "RunPlacementPlacement",
    "RunResult",
    "RunResultHwinfo",
    "RunResultOsReleaseType0",
    "RunResultUsageType0",
    "RunSection",
    "SlurmRequest",
    "SourceOut",
    "StageOut",
    "StageOutCounts",
    "StageSpec",
    "Status",
    "StatusRuns",
    "TaskCopyOut",
    "TaskCopyPage",
    "TaskInput",
    "TaskSpec",
    "TestbedCreate",
    "TestbedCreateConfig",
    "TestbedList",
    "TestbedOut",
    "TestbedOutConfig",
    "Timeline",
    "TimelineEntry",
    "WorkflowCancelled",
    "WorkflowCreated",
    "WorkflowOut",
    "WorkflowPage",
    "WorkflowSpec",
    "WorkflowSummary",
)
