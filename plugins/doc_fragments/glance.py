# Copyright: Glint developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

class ModuleDocFragment:

    # The connection options of every glint.glance image module.
    DOCUMENTATION = r'''
options:
  cloud:
    description:
      - Name of a cloud in C(clouds.yaml), or a dict of the same settings a
        C(clouds.yaml) entry holds (C(auth), C(auth_type), C(region_name), ...).
      - With a dict, the other connection options given here override its keys.
      - Without O(cloud), O(auth) or O(auth_type), openstacksdk reads the
        C(OS_*) environment variables (or the C(OS_CLOUD) entry of C(clouds.yaml)).
    type: raw
  auth:
    description:
      - Credentials for the O(auth_type) plugin, as keystoneauth names them
        (C(auth_url), C(username), C(password), C(project_name),
        C(user_domain_name), C(project_domain_name), C(token), ...).
    type: dict
  auth_type:
    description:
      - The keystoneauth plugin, for example C(password), C(token),
        C(v3applicationcredential).
      - C(none) talks to an image service without authentication (Glint's
        embedded default) at O(endpoint), which then defaults to
        C(http://127.0.0.1:9292).
    type: str
  region_name:
    description:
      - Region of the image endpoint in the service catalog.
    type: str
  interface:
    description:
      - Which endpoint of the catalog to use.
    type: str
    default: public
    choices: [public, internal, admin]
    aliases: [endpoint_type]
  validate_certs:
    description:
      - Whether to verify TLS certificates. Defaults to openstacksdk's choice
        (C(true), unless C(clouds.yaml) says otherwise).
    type: bool
    aliases: [verify]
  ca_cert:
    description:
      - CA bundle that verifies the servers' certificates.
    type: path
    aliases: [cacert]
  client_cert:
    description:
      - Client certificate for TLS client authentication.
    type: path
    aliases: [cert]
  client_key:
    description:
      - Key of O(client_cert).
    type: path
    aliases: [key]
  api_timeout:
    description:
      - Seconds before an API call times out (none by default).
    type: int
  endpoint:
    description:
      - URL of the image service (for example C(http://127.0.0.1:9292)), used
        instead of the catalog's image endpoint.
      - Required with O(auth_type=none); defaults then to C(http://127.0.0.1:9292).
    type: str
requirements:
  - python >= 3.9
  - openstacksdk >= 1.0
notes:
  - Put the connection options into C(module_defaults) with the action group
    C(group/glint.glance.glance) to give them once per play.
'''
