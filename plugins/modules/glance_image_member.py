#!/usr/bin/python
# Copyright: Glint developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

DOCUMENTATION = r'''
module: glance_image_member
short_description: Share an image with a project, and accept or reject a shared image
version_added: 0.1.0
description:
  - As the image's owner, shares an image with a project (makes the project a
    member) or stops sharing it (O(state=absent)). The image's visibility must be
    C(shared) for members to see it.
  - As the member project, accepts or rejects an image shared with it (O(status)).
    Glance lets only the member change its status, and only the owner add or
    remove members.
author:
  - Glint developers (@glint)
extends_documentation_fragment:
  - glint.glance.glance
attributes:
  check_mode:
    support: full
    description: Reports the change the task would make, and its diff, without making it.
  diff_mode:
    support: full
    description: Before and after of the membership (member and status).
options:
  image:
    description:
      - Name or ID of the image. Names are looked up among the images the caller
        sees, pending shared ones included.
    type: str
    required: true
  member:
    description:
      - ID of the member project, or its name when the caller may look projects
        up in Keystone (a name fails otherwise).
    type: str
    required: true
    aliases: [project]
  status:
    description:
      - The membership's status, set by the member. Left alone when not given;
        a new membership starts V(pending).
    type: str
    choices: [accepted, rejected, pending]
  state:
    description:
      - V(present) shares the image with O(member) (as the owner), then sets
        O(status) when given.
      - V(absent) removes the membership (as the owner).
    type: str
    default: present
    choices: [present, absent]
'''

EXAMPLES = r'''
- name: The owner shares an image with another project
  glint.glance.glance_image_member:
    cloud: owner-project
    image: team-image
    member: 4b5c6d7e8f9012a3b4c5d6e7f8a9b0c1

- name: That project accepts it
  glint.glance.glance_image_member:
    cloud: member-project
    image: team-image
    member: 4b5c6d7e8f9012a3b4c5d6e7f8a9b0c1
    status: accepted

- name: The owner stops sharing it
  glint.glance.glance_image_member:
    cloud: owner-project
    image: team-image
    member: 4b5c6d7e8f9012a3b4c5d6e7f8a9b0c1
    state: absent
'''

RETURN = r'''
member:
  description:
    - The membership as the Images API v2 shows it; V(null) when there is none
      (after O(state=absent), or in check mode for one to create).
  returned: always
  type: dict
  sample:
    image_id: 6a8b5a4e-8e3c-4c8e-9d2f-0b0f1b8e3c11
    member_id: 4b5c6d7e8f9012a3b4c5d6e7f8a9b0c1
    status: accepted
    created_at: '2026-11-27T09:30:00Z'
    updated_at: '2026-11-27T09:31:00Z'
    schema: /v2/schemas/member
image_id:
  description: ID of the image.
  returned: always
  type: str
'''

from ansible_collections.glint.glance.plugins.module_utils.glance import (  # noqa: E402
    Failure,
    GlanceModule,
    plan_membership,
)


class ImageMember(GlanceModule):
    argument_spec = dict(
        image=dict(type='str', required=True),
        member=dict(type='str', required=True, aliases=['project']),
        status=dict(type='str', choices=['accepted', 'rejected', 'pending']),
        state=dict(type='str', default='present', choices=['present', 'absent']),
    )

    def find_image(self, name_or_id):
        images = self.client.find_images(name_or_id, {'member_status': 'all'})
        if len(images) != 1:
            raise Failure('image %s: %d images match, need exactly one'
                          % (name_or_id, len(images)))
        return images[0]

    def run(self):
        params = self.params
        image_id = self.find_image(params['image'])['id']
        member_id = self.client.project_id(params['member'])
        current = self.client.get_member(image_id, member_id)
        steps, after = plan_membership(current, member_id, params['state'], params['status'])
        before = dict(member=member_id, status=current['status']) if current else {}
        if self.planned_only(bool(steps)):
            return self.result(bool(steps), before, after, image_id=image_id, member=current)
        member = current
        for step in steps:
            if step == 'add':
                member = self.client.add_member(image_id, member_id)
            elif step == 'remove':
                self.client.remove_member(image_id, member_id)
                member = None
            else:
                member = self.client.set_member_status(image_id, member_id,
                                                       params['status'])
        return self.result(True, before, after, image_id=image_id, member=member)


def main():
    ImageMember().execute()


if __name__ == '__main__':
    main()
