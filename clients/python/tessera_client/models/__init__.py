"""Contains all the data models used in inputs/outputs"""

from .accelerator import Accelerator
from .accepted import Accepted
from .attempt_list import AttemptList
from .attempt_out import AttemptOut
from .attempt_out_placement import AttemptOutPlacement
from .build_out import BuildOut
from .build_section import BuildSection
from .cancelled import Cancelled
from .deployment_created import DeploymentCreated
from .deployment_out import DeploymentOut
from .deployment_page import DeploymentPage
from .deployment_spec import DeploymentSpec
from .deployment_spec_environment import DeploymentSpecEnvironment
from .deployment_specification import DeploymentSpecification
from .error_body import ErrorBody
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
from .node_out import NodeOut
from .node_out_labels import NodeOutLabels
from .node_page import NodePage
from .offer import Offer
from .offer_request import OfferRequest
from .offer_request_hardware_type_0 import OfferRequestHardwareType0
from .offers import Offers
from .offers_hardware import OffersHardware
from .python_section import PythonSection
from .requests import Requests
from .requests_hardware_type_0 import RequestsHardwareType0
from .retry import Retry
from .retry_on_item import RetryOnItem
from .ruled_out import RuledOut
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
from .status import Status
from .status_runs import StatusRuns
from .testbed_create import TestbedCreate
from .testbed_create_config import TestbedCreateConfig
from .testbed_list import TestbedList
from .testbed_out import TestbedOut
from .testbed_out_config import TestbedOutConfig

__all__ = (
    "Accelerator",
    "Accepted",
    "AttemptList",
    "AttemptOut",
    "AttemptOutPlacement",
    "BuildOut",
    "BuildSection",
    "Cancelled",
    "DeploymentCreated",
    "DeploymentOut",
    "DeploymentPage",
    "DeploymentSpec",
    "DeploymentSpecEnvironment",
    "DeploymentSpecification",
    "ErrorBody",
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
    "NodeOut",
    "NodeOutLabels",
    "NodePage",
    "Offer",
    "OfferRequest",
    "OfferRequestHardwareType0",
    "Offers",
    "OffersHardware",
    "PythonSection",
    "Requests",
    "RequestsHardwareType0",
    "Retry",
    "RetryOnItem",
    "RuledOut",
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
    "Status",
    "StatusRuns",
    "TestbedCreate",
    "TestbedCreateConfig",
    "TestbedList",
    "TestbedOut",
    "TestbedOutConfig",
)
