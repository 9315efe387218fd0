import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Interview } from './interview.entity.js';
import { InterviewsService } from './interviews.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([Interview])],
  providers: [InterviewsService],
  exports: [InterviewsService],
})
export class InterviewsModule {}
