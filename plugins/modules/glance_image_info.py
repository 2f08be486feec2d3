#!/usr/bin/python
# Copyright: Glint developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

DOCUMENTATION = r'''
module: glance_image_info
short_description: List images of Glint or OpenStack Glance
version_added: 0.1.0
description:
  - Lists images by name, by ID, or with any list filter of the Images API v2,
    following the API's pages until the last one.
author:
  - Glint developers (@glint)
extends_documentation_fragment:
  - glint.glance.glance
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so has no diff.
options:
  image:
    description:
      - Name or ID of the image. An ID shows that image (hidden or not); a name
        lists the images of that name, hidden ones included.
    type: str
    aliases: [name, id]
  filters:
    description:
      - Query parameters of C(GET /v2/images), passed as given; a list value
        repeats the parameter (C(tag), for example).
      - For example C(visibility), C(member_status), C(owner), C(status),
        C(os_hidden), C(protected), C(tag), C(size_min), C(size_max),
        C(created_at), C(sort), custom properties by name, or
        C(name) with the C(in:) operator.
    type: dict
    default: {}
  page_size:
    description: Images per request (the service's default page size when not given).
    type: int
'''

EXAMPLES = r'''
- name: One image, by name or ID
  glint.glance.glance_image_info:
    cloud: mycloud
    image: cirros-0.6.2
  register: found

- name: All public images tagged cirros, hidden ones too
  glint.glance.glance_image_info:
    auth_type: none
    endpoint: http://127.0.0.1:9292
    filters:
      visibility: public
      tag: [cirros]
      os_hidden: true

- name: Images shared with this project and not yet accepted
  glint.glance.glance_image_info:
    cloud: mycloud
    filters:
      visibility: shared
      member_status: pending
'''

RETURN = r'''
images:
  description:
    - The matching images as the Images API v2 shows them, custom properties
      included, in the service's order.
  returned: always
  type: list
  elements: dict
  sample:
    - id: 6a8b5a4e-8e3c-4c8e-9d2f-0b0f1b8e3c11
      name: cirros-0.6.2
      status: active
      visibility: public
      disk_format: qcow2
      container_format: bare
      size: 21430272
      tags: [cirros]
'''

from ansible_collections.glint.glance.plugins.module_utils.glance import (  # noqa: E402
    GlanceModule,
)


def query(filters):
    """Query parameters: booleans as the API spells them, lists repeated."""
    def text(value):
        if isinstance(value, bool):
            return 'true' if value else 'false'
        return str(value)
    return dict((k, [text(v) for v in value] if isinstance(value, list) else text(value))
                for k, value in filters.items())


class ImageInfo(GlanceModule):
    argument_spec = dict(
        image=dict(type='str', aliases=['name', 'id']),
        filters=dict(type='dict', default={}),
        page_size=dict(type='int'),
    )

    def run(self):
        filters = query(self.params['filters'])
        if self.params['image']:
            images = self.client.find_images(self.params['image'], filters)
        else:
            images = self.client.list_images(filters, self.params['page_size'])
        return dict(changed=False, images=images)


def main():
    ImageInfo().execute()


if __name__ == '__main__':
    main()
