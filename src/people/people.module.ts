import { Module } from '@nestjs/common';
import { PeopleService } from './people.service';
import { SecurityNotices } from './security-notices.service';

@Module({ providers: [PeopleService, SecurityNotices], exports: [PeopleService, SecurityNotices] })
export class PeopleModule {}
